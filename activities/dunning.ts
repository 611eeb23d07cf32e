import { z } from 'zod';
import { closeDunningCase, openDunningCase } from '../db/dunning-cases';
import { createDraftOnce, discardEndedSequence, findStepDraft, transitionDraft, type Draft } from '../db/drafts';
import type { Knex } from '../db/knex';
import { mirroredDunningFacts } from '../db/mirror';
import { getPlaySettings } from '../db/play-settings';
import { customerActivity } from '../db/product-signals';
import { findWorkspace } from '../db/workspaces';
import type { DraftStatus } from '../domain/drafts';
import { isOpenDraft } from '../domain/drafts';
import { dunningEnd, paidEnd, type DunningEnd } from '../domain/dunning-ends';
import { HOUR_MS } from '../domain/durations';
import {
  DEFAULT_DUNNING_SCHEDULE,
  DUNNING_TONES,
  dunningStepName,
  inDayOrder,
  planDunningSteps,
  scheduleProblems,
  type DunningScheduleSettings,
  type PlannedStep,
} from '../domain/dunning-schedule';
import { DEFAULT_DUNNING_TEMPLATES, stepFacts, type DunningFacts } from '../domain/dunning-templates';
import { tenureMonths } from '../domain/plan-value';
import { usageSummary } from '../domain/product-activity';
import { modeForCustomer, type RolloutMode } from '../domain/rollout';
import type { Logger } from '../platform/logger';
import type { DunningOutcome } from '../workflows/play-messages';
import { renderPlayEmail } from './drafts';
import { rereadIfMirrorBehind } from './invoice-mirror';
import { isWorthWaitingFor, type InvoiceSnapshot, type StripeReader } from './stripe-reader';

export const DUNNING_PLAY = 'dunning';
const ACTOR = 'system:dunning';

/** Dunning's part of play_settings.config, validated where it is stored and where it is read. */
export const dunningConfigSchema = z.strictObject({
  steps: z
    .array(z.strictObject({ day: z.number().int().min(0).max(60), tone: z.enum(DUNNING_TONES) }))
    .min(1)
    .max(10),
  quietHoursBeforeRetry: z.number().min(0).max(72).default(DEFAULT_DUNNING_SCHEDULE.quietHoursBeforeRetry),
  hoursAfterRetry: z.number().min(0).max(72).default(DEFAULT_DUNNING_SCHEDULE.hoursAfterRetry),
});

/** The workspace's schedule; the default when unset (or no longer valid). */
export function dunningSchedule(config: Record<string, unknown>): DunningScheduleSettings {
  const parsed = dunningConfigSchema.safeParse(config);
  if (!parsed.success || scheduleProblems(parsed.data).length) return DEFAULT_DUNNING_SCHEDULE;
  // Schedules stored before the API sorted them are read in day order too.
  return inDayOrder(parsed.data);
}

export interface DunningActivityDeps {
  db: Knex;
  stripe: StripeReader;
  log: Logger;
}

export interface DunningRef {
  workspaceId: string;
  customerId: string;
  invoiceId: string;
  workflowId: string;
}

export type BeginDunningResult =
  | {
      kind: 'open';
      steps: PlannedStep[];
      subscriptionId: string | null;
      /** When the invoice was created (ISO-8601 UTC), when known: a subscription's end at or before it leaves the dunning running. Absent in histories recorded before. */
      invoiceCreated?: string | null;
      quietBeforeRetryMs: number;
      afterRetryMs: number;
    }
  | { kind: 'closed'; invoiceStatus: string }
  /** Paid, closed or its subscription ended (domain/dunning-ends.ts). */
  | { kind: 'ended'; outcome: DunningEnd }
  | { kind: 'stripe_unavailable'; error: string };

export type StepState =
  | { kind: 'ready'; mode: RolloutMode; draft: { id: string; status: DraftStatus; endSequence?: boolean } | null }
  /** Paid, closed or its subscription ended (domain/dunning-ends.ts). */
  | { kind: 'ended'; outcome: DunningEnd }
  | { kind: 'stripe_unavailable'; error: string };

/**
 * The facts a dunning email cites, read from Stripe (invoice, customer, plan), the
 * workspace and product signals. Null when Stripe has no such invoice. Also used by
 * the template preview. `invoiceRead`: Stripe's answer for the invoice when the
 * caller has just asked (null: no such invoice); asked here otherwise.
 */
export async function buildDunningFacts(
  deps: Pick<DunningActivityDeps, 'db' | 'stripe'>,
  ref: Pick<DunningRef, 'workspaceId' | 'customerId' | 'invoiceId'>,
  step: Pick<PlannedStep, 'index' | 'tone'>,
  totalSteps: number,
  invoiceRead?: InvoiceSnapshot | null,
): Promise<{ facts: DunningFacts; to: string | null } | null> {
  const { db, stripe } = deps;
  const invoice = invoiceRead !== undefined ? invoiceRead : await stripe.invoice(ref.workspaceId, ref.invoiceId);
  if (!invoice) return null;
  const [customer, plan, workspace, usage] = await Promise.all([
    stripe.customer(ref.workspaceId, ref.customerId),
    invoice.subscriptionId ? stripe.subscriptionPlan(ref.workspaceId, invoice.subscriptionId) : Promise.resolve(null),
    findWorkspace(db, ref.workspaceId),
    recentUsage(db, ref.workspaceId, ref.customerId),
  ]);
  const payUrl = invoice.hostedInvoiceUrl ?? (await stripe.billingPortalUrl(ref.workspaceId, ref.customerId));
  const since = customer?.created ? new Date(customer.created) : null;
  const facts: DunningFacts = {
    company: { name: workspace?.name ?? ref.workspaceId },
    customer: {
      id: ref.customerId,
      name: customer?.name ?? 'there',
      email: customer?.email ?? null,
      customerSince: customer?.created ?? null,
      tenureMonths: since ? tenureMonths(since, new Date()) : null,
    },
    plan: plan?.monthlyValue ? { name: plan.name, monthlyValue: plan.monthlyValue } : null,
    invoice: {
      id: invoice.id,
      number: invoice.number,
      amountDue: { amount: invoice.amountRemaining || invoice.amountDue, currency: invoice.currency },
      hostedUrl: invoice.hostedInvoiceUrl,
      nextRetryAt: invoice.nextPaymentAttempt,
    },
    payUrl: payUrl ?? '',
    usage,
    step: stepFacts(step.index, step.tone, totalSteps),
  };
  return { facts, to: customer?.email ?? null };
}

/** The customer's recent usage from the product's signals, as an email cites it; null when there is none to cite. */
async function recentUsage(db: Knex, workspaceId: string, customerId: string): Promise<{ summary: string } | null> {
  const summary = usageSummary(await customerActivity(db, workspaceId, customerId, new Date()));
  return summary ? { summary } : null;
}

export function createDunningActivities(deps: DunningActivityDeps) {
  const { db, stripe, log } = deps;

  const summary = (d: Draft) => ({ id: d.id, status: d.status });

  const mirrorBehind = (ref: DunningRef, status: string | null, mirrored: string | null) =>
    rereadIfMirrorBehind(deps, { workspaceId: ref.workspaceId, invoiceId: ref.invoiceId, customerId: ref.customerId, stripeStatus: status }, 'dunning_check', mirrored);

  /**
   * How the dunning ends, if it does: its invoice as Stripe has it (`invoice`, when
   * Stripe answered) or else as the mirror has it, and its subscription as the mirror
   * has it (domain/dunning-ends.ts).
   */
  const endOf = async (ref: DunningRef, invoice: InvoiceSnapshot | null): Promise<DunningEnd | null> => {
    const mirrored = await mirroredDunningFacts(db, ref.workspaceId, ref.invoiceId, invoice?.subscriptionId ?? null);
    if (!invoice) return dunningEnd(mirrored);
    await mirrorBehind(ref, invoice.status, mirrored.invoiceStatus);
    const invoiceCreated = invoice.created ? new Date(invoice.created) : mirrored.invoiceCreated;
    return dunningEnd({ ...mirrored, invoiceStatus: invoice.status, paidOffStripe: invoice.paidOffStripe, invoiceCreated });
  };

  /** Stripe's answer for the invoice (null: no such invoice), or why Stripe gave none worth failing over. */
  const readInvoice = async (ref: DunningRef): Promise<{ invoice: InvoiceSnapshot | null; unavailable: Error | null }> => {
    try {
      return { invoice: await stripe.invoice(ref.workspaceId, ref.invoiceId), unavailable: null };
    } catch (err) {
      if (!isWorthWaitingFor(err)) throw err;
      return { invoice: null, unavailable: err };
    }
  };

  return {
    /**
     * Reads the invoice, opens the recovery case and plans the steps around Stripe's
     * next retry; ends at once when the invoice is paid or closed, or the mirror shows
     * its subscription already ended (the end delivered before the failure).
     */
    async beginDunning(input: DunningRef & { failedAt: string }): Promise<BeginDunningResult> {
      const { invoice, unavailable } = await readInvoice(input);
      if (unavailable) return { kind: 'stripe_unavailable', error: unavailable.message };
      if (!invoice) return { kind: 'closed', invoiceStatus: 'missing' };
      await openDunningCase(db, {
        workspaceId: input.workspaceId,
        invoiceId: input.invoiceId,
        customerId: input.customerId,
        workflowId: input.workflowId,
        currency: invoice.currency,
        amountDue: invoice.amountDue,
        failedAt: new Date(input.failedAt),
      });
      const ended = await endOf(input, invoice);
      if (ended) return { kind: 'ended', outcome: ended };
      if (invoice.status !== 'open') return { kind: 'closed', invoiceStatus: invoice.status ?? 'unknown' };
      const settings = await getPlaySettings(db, input.workspaceId, DUNNING_PLAY);
      const retries = invoice.nextPaymentAttempt ? [new Date(invoice.nextPaymentAttempt)] : [];
      const schedule = dunningSchedule(settings.config);
      return {
        kind: 'open',
        steps: planDunningSteps(new Date(input.failedAt), schedule, retries, new Date()),
        subscriptionId: invoice.subscriptionId,
        invoiceCreated: invoice.created,
        quietBeforeRetryMs: schedule.quietHoursBeforeRetry * HOUR_MS,
        afterRetryMs: schedule.hoursAfterRetry * HOUR_MS,
      };
    },

    /**
     * Ends the dunning when its invoice is paid or closed or its subscription ended,
     * news no signal may have brought (domain/dunning-ends.ts): the invoice as Stripe
     * has it now (as the mirror has it while Stripe does not answer), the subscription
     * as the mirror has it. Otherwise brings the step's draft in line with the play's
     * mode as it is now: creates it (scheduled in auto, drafted in review), returns a
     * scheduled one to review when the mode changed to review, cancels it when the
     * mode is off.
     */
    async prepareDunningStep(input: DunningRef & { step: PlannedStep; totalSteps: number }): Promise<StepState> {
      // Unreachable (or no key): the mirror decides; a draft still to build waits for Stripe below.
      const { invoice, unavailable } = await readInvoice(input);
      const ended = await endOf(input, invoice);
      if (ended) return { kind: 'ended', outcome: ended };
      const settings = await getPlaySettings(db, input.workspaceId, DUNNING_PLAY);
      const mode = modeForCustomer(settings.rollout, input.workspaceId, input.customerId);
      const stepName = dunningStepName(input.step.index);
      let draft = await findStepDraft(db, input.workflowId, stepName);
      if (mode === 'off') {
        if (draft && isOpenDraft(draft.status)) draft = await transitionDraft(db, draft.id, { to: 'cancelled', actor: ACTOR, reason: 'dunning is off in this workspace' });
        return { kind: 'ready', mode, draft: draft ? summary(draft) : null };
      }
      if (!draft) {
        // Not asked again: a second wait for the rate limit could outlast the activity's timeout.
        if (unavailable) return { kind: 'stripe_unavailable', error: unavailable.message };
        let built;
        try {
          built = await buildDunningFacts(deps, input, input.step, input.totalSteps, invoice);
        } catch (err) {
          if (isWorthWaitingFor(err)) return { kind: 'stripe_unavailable', error: err.message };
          throw err;
        }
        if (!built) return { kind: 'ready', mode, draft: null };
        const email = await renderPlayEmail(db, log, {
          workspaceId: input.workspaceId,
          play: DUNNING_PLAY,
          templateKey: input.step.tone,
          builtIn: DEFAULT_DUNNING_TEMPLATES[input.step.tone],
          facts: built.facts,
        });
        ({ draft } = await createDraftOnce(
          db,
          {
            workspaceId: input.workspaceId,
            customerId: input.customerId,
            play: DUNNING_PLAY,
            step: stepName,
            workflowId: input.workflowId,
            subjectRef: input.invoiceId,
            templateKey: input.step.tone,
            status: mode === 'auto' ? 'scheduled' : 'drafted',
            toAddress: built.to,
            subject: email.subject,
            bodyHtml: email.html,
            bodyText: email.text,
            facts: built.facts,
            scheduledFor: new Date(input.step.at),
          },
          ACTOR,
        ));
      } else if (mode === 'review' && draft.status === 'scheduled') {
        draft = await transitionDraft(db, draft.id, { to: 'drafted', actor: ACTOR, reason: 'dunning changed to review mode', onlyFrom: ['scheduled'] });
      }
      if (draft.status === 'discarded' && (await discardEndedSequence(db, draft.workspaceId, draft.id))) return { kind: 'ready', mode, draft: { ...summary(draft), endSequence: true } };
      return { kind: 'ready', mode, draft: summary(draft) };
    },

    /**
     * The last look before a dunning ends as exhausted: whether its invoice was paid
     * with no signal telling it (marked paid out of band in Stripe's dashboard). Only
     * a payment counts: by then Stripe has usually given up (uncollectible, the
     * subscription cancelled), which is what exhausted means. Best effort: whatever
     * Stripe answers or fails with, the dunning must end, so a failure leaves it to
     * the mirror, which cannot tell a payment out of band (a recovery then).
     */
    async finalDunningCheck(input: DunningRef): Promise<'recovered' | 'paid_out_of_band' | null> {
      let invoice: InvoiceSnapshot | null = null;
      try {
        invoice = await stripe.invoice(input.workspaceId, input.invoiceId);
      } catch (err) {
        log.warn({ err: (err as Error).message, invoiceId: input.invoiceId }, 'dunning final check: Stripe did not answer; the mirror decides');
      }
      const mirrored = (await mirroredDunningFacts(db, input.workspaceId, input.invoiceId)).invoiceStatus;
      if (invoice) await mirrorBehind(input, invoice.status, mirrored);
      const status = invoice ? invoice.status : mirrored;
      return status === 'paid' ? paidEnd(invoice?.paidOffStripe ?? false) : null;
    },

    /** Records how the dunning ended, for recovery analytics. */
    async closeDunning(input: DunningRef & { outcome: DunningOutcome; sentSteps: number[] }): Promise<void> {
      await closeDunningCase(db, input.workspaceId, input.invoiceId, {
        outcome: input.outcome,
        stepsSent: input.sentSteps,
        endedAt: new Date(),
      });
    },
  };
}
