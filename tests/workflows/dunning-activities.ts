import { ApplicationFailure } from '@temporalio/activity';
import type { AnalyticsActivities } from '../../activities/analytics';
import type { Activities } from '../../activities';
import type { ExpansionActivities } from '../../activities/expansion';
import type { RenewalActivities } from '../../activities/renewal';
import type { ChurnSaveActivities } from '../../activities/churn-save';
import type { SendOutcome } from '../../activities/sending';
import type { DraftStatus } from '../../domain/drafts';
import type { DunningEnd } from '../../domain/dunning-ends';
import { DEFAULT_DUNNING_SCHEDULE, isOvertaken, planDunningSteps, type DunningScheduleSettings } from '../../domain/dunning-schedule';
import type { RolloutMode } from '../../domain/rollout';

/**
 * Activities for workflow tests: in-memory stand-ins with the same contract as the
 * real ones (drafts per step, mode re-read at each call, a send ledger), so the tests
 * exercise the workflow's decisions on the time-skipping server.
 */
export interface FakeWorld {
  mode: RolloutMode;
  schedule: DunningScheduleSettings;
  invoiceStatus: string;
  /** With a paid invoice: marked paid out of band. */
  paidOffStripe: boolean;
  stripeDown: boolean;
  /** The email provider refuses every send (retryable, as SES without credentials): the send activity is retried. */
  senderDown: boolean;
  nextPaymentAttempt: string | null;
  subscriptionId: string | null;
  /** When the invoice was created (ISO-8601), as beginDunning reads it; null: not known. */
  invoiceCreated: string | null;
  /** What a check of Stripe and the mirror would find: the invoice paid or closed, or its subscription ended, with no signal. */
  endOnCheck: DunningEnd | null;
  drafts: Map<string, { id: string; workflowId: string; step: number; status: DraftStatus }>;
  /** The Temporal server's time: the wall clock, or the time-skipping server's (`env.currentTimeMs`). */
  clock: () => Promise<number>;
  /** `at`: when it was sent, by `clock`. */
  sent: { draftId: string; step: number; at: number }[];
  /** Steps whose send found the next step due: their drafts were cancelled. */
  overtaken: number[];
  closed: { outcome: string; sentSteps: number[] }[];
}

export function fakeWorld(mode: RolloutMode): FakeWorld {
  return {
    mode,
    schedule: DEFAULT_DUNNING_SCHEDULE,
    invoiceStatus: 'open',
    paidOffStripe: false,
    stripeDown: false,
    senderDown: false,
    nextPaymentAttempt: null,
    subscriptionId: 'sub_1',
    invoiceCreated: null,
    endOnCheck: null,
    drafts: new Map(),
    sent: [],
    overtaken: [],
    closed: [],
    clock: () => Promise.resolve(Date.now()),
  };
}

/** The dunning play's activities (analytics and the one-email plays' run elsewhere). */
export function fakeActivities(world: FakeWorld): Omit<Activities, keyof AnalyticsActivities | keyof ChurnSaveActivities | keyof ExpansionActivities | keyof RenewalActivities> {
  const draftOf = (workflowId: string, step: number) => [...world.drafts.values()].find((d) => d.workflowId === workflowId && d.step === step);
  const open: DraftStatus[] = ['drafted', 'approved', 'edited', 'scheduled'];
  return {
    beginDunning(input) {
      if (world.stripeDown) return Promise.resolve({ kind: 'stripe_unavailable', error: 'down' });
      if (world.endOnCheck) return Promise.resolve({ kind: 'ended', outcome: world.endOnCheck });
      if (world.invoiceStatus !== 'open') return Promise.resolve({ kind: 'closed', invoiceStatus: world.invoiceStatus });
      const retries = world.nextPaymentAttempt ? [new Date(world.nextPaymentAttempt)] : [];
      return Promise.resolve({
        kind: 'open',
        steps: planDunningSteps(new Date(input.failedAt), world.schedule, retries),
        subscriptionId: world.subscriptionId,
        invoiceCreated: world.invoiceCreated,
        quietBeforeRetryMs: 12 * 3_600_000,
        afterRetryMs: 2 * 3_600_000,
      });
    },
    prepareDunningStep(input) {
      if (world.endOnCheck) return Promise.resolve({ kind: 'ended', outcome: world.endOnCheck });
      let draft = draftOf(input.workflowId, input.step.index);
      if (world.mode === 'off') {
        if (draft && open.includes(draft.status)) draft.status = 'cancelled';
        return Promise.resolve({ kind: 'ready', mode: world.mode, draft: draft ? { id: draft.id, status: draft.status } : null });
      }
      if (!draft) {
        if (world.stripeDown) return Promise.resolve({ kind: 'stripe_unavailable', error: 'down' });
        draft = { id: `draft-${input.workflowId}-${input.step.index}`, workflowId: input.workflowId, step: input.step.index, status: world.mode === 'auto' ? 'scheduled' : 'drafted' };
        world.drafts.set(draft.id, draft);
      } else if (world.mode === 'review' && draft.status === 'scheduled') {
        draft.status = 'drafted';
      }
      return Promise.resolve({ kind: 'ready', mode: world.mode, draft: { id: draft.id, status: draft.status } });
    },
    async sendDraft(input): Promise<SendOutcome> {
      const draft = world.drafts.get(input.draftId);
      if (!draft) return { kind: 'not_sendable', status: 'missing' };
      if (draft.status === 'sent') return { kind: 'already_sent' };
      if (draft.status === 'drafted' && input.allowDrafted) draft.status = 'scheduled';
      if (!['approved', 'edited', 'scheduled'].includes(draft.status)) return { kind: 'not_sendable', status: draft.status };
      const now = await world.clock();
      const nextStepAt = input.precondition?.nextStepAt;
      if (nextStepAt && isOvertaken({ at: nextStepAt }, now)) {
        draft.status = 'cancelled';
        world.overtaken.push(draft.step);
        return { kind: 'overtaken', nextStepAt };
      }
      if (world.stripeDown) return { kind: 'stripe_unavailable', error: 'Stripe unavailable: 503' };
      if (world.invoiceStatus !== 'open') return { kind: 'precondition_failed', invoiceStatus: world.invoiceStatus, paidOffStripe: world.paidOffStripe };
      if (world.senderDown) throw ApplicationFailure.retryable('SES: no AWS credentials to sign with', 'EmailProviderUnavailable');
      draft.status = 'sent';
      world.sent.push({ draftId: draft.id, step: draft.step, at: now });
      return { kind: 'sent', providerMessageId: `msg-${world.sent.length}` };
    },
    finalDunningCheck() {
      const end = world.endOnCheck;
      return Promise.resolve(end === 'recovered' || end === 'paid_out_of_band' ? end : null);
    },
    cancelOpenDrafts(input) {
      let n = 0;
      for (const d of world.drafts.values()) {
        if (d.workflowId === input.workflowId && open.includes(d.status) && (!input.draftIds || input.draftIds.includes(d.id))) {
          d.status = 'cancelled';
          n++;
        }
      }
      return Promise.resolve(n);
    },
    closeDunning(input) {
      world.closed.push({ outcome: input.outcome, sentSteps: input.sentSteps });
      return Promise.resolve();
    },
  };
}
