import { condition, patched, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { endClosesDunning, paidEnd } from '../domain/dunning-ends';
import { stepTiming, type LastDunningEmail, type PlannedStep } from '../domain/dunning-schedule';
import type { DraftStatus } from '../domain/drafts';
import { isSendableDraft } from '../domain/drafts';
import {
  draftDecisionSignal,
  dunningEventSignal,
  dunningStateQuery,
  playSettingsChangedSignal,
  type DraftDecision,
  type DunningEvent,
  type DunningOutcome,
  type DunningState,
} from './play-messages';

type Activities = ReturnType<typeof createActivities>;

// Reads and draft bookkeeping: quick, retried until they work (the database may be restarting).
const bookkeepingOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
} as const;
/**
 * Since this patch the bookkeeping runs as local activities: in the worker that runs
 * the workflow task, recorded with its result, without a task round trip through the
 * Temporal server each (about three fewer server tasks per step). Histories recorded
 * before it scheduled them as activities and replay that way.
 */
export const LOCAL_BOOKKEEPING_PATCH = 'dunning-local-bookkeeping';
/**
 * Guards the last look at the invoice (a payment no signal brought) before ending as
 * exhausted (finalDunningCheck): runs recorded before it ended without one.
 */
export const FINAL_CHECK_PATCH = 'dunning-final-check';
/**
 * Since then a subscription's end signalled at or before its invoice's creation (a
 * final invoice) leaves the dunning running; workers from before stopped it, and a
 * history they made replays that way.
 */
export const FINAL_INVOICE_END_PATCH = 'dunning-final-invoice-end';
/**
 * Since then a step the sequence reaches after the next one fell due (the previous
 * send held up for days) is skipped without a draft, and a step after a late email
 * waits for the spacing (stepTiming in domain/dunning-schedule.ts): runs recorded
 * before drafted and sent every step at its planned time. Checked only where it
 * changes something, so a sequence sent on time records no marker.
 */
export const AFTER_STALL_PATCH = 'dunning-after-stall';
// Sending: a provider's 429/5xx is retried with backoff. Each attempt re-reads the
// invoice first and the send ledger keeps every draft to at most one email; an attempt
// made once the next step is due cancels the draft as overtaken instead of sending.
const { sendDraft } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
});

export interface DunningWorkflowInput {
  workspaceId: string;
  customerId: string;
  invoiceId: string;
  /** When the payment failed (the Stripe event's time), ISO-8601 UTC: day 0 of the schedule. */
  failedAt: string;
}

export interface DunningResult {
  outcome: DunningOutcome;
  sentSteps: number[];
}

/** How long a review may take when there is no later step to give way to. */
const LAST_REVIEW_WINDOW_MS = 7 * 24 * 3_600_000;
/** A waiting review re-reads the draft and the mode this often (signals wake it sooner). */
const REVIEW_POLL_MS = 6 * 3_600_000;
/** After the last step, payments are still recorded as recoveries for this long. */
const SETTLE_MS = 7 * 24 * 3_600_000;
/** Stripe unreachable: try again after 1 minute, doubling to 1 hour. */
const stripeRetryDelayMs = (attempt: number) => Math.min(3_600_000, 60_000 * 2 ** Math.min(attempt, 6));

// Temporal's workflow sandbox makes `new Date()` the deterministic time of the
// current workflow task, which is what every timer below is measured against.
const nowMs = () => new Date().getTime();

/**
 * One failed invoice's dunning sequence: `dunning:<workspace>:<invoice>`, started by
 * the customer's workflow on invoice.payment_failed. Each step drafts an email ahead
 * of its time (so a reviewer can approve it before it is due), re-reads the play's
 * mode at its time, waits for a review when the mode says so, re-reads the invoice
 * from Stripe right before sending and sends through the ledger. A payment, the
 * invoice closing or the subscription ending (unless it ended when or before the
 * invoice was created: a final invoice) stops it at once and cancels every
 * draft not yet sent: as a signal when an event brings the news, else at the next
 * check of a step, which reads the invoice from Stripe and the subscription from the
 * mirror (an invoice marked paid out of band or voided in Stripe's dashboard, a
 * subscription's end delivered before the failure). After the settling days a
 * last look tells a payment no signal brought from an exhausted sequence.
 *
 * A send held up (the provider refusing for days, Stripe down, a late approval) does
 * not bring the emails it held back in a row: a step is overtaken once the next is
 * due, wherever that is found (the send's own check, on whichever attempt of it, or
 * on reaching the step or waiting for Stripe to draft it), and after a late email the
 * next waits for the spacing (domain/dunning-schedule.ts). The send's check changes no
 * command (an `overtaken` answer leaves the step unsent, as a draft no longer sendable
 * always did), so it is asked of every run, old ones included; a worker from before it
 * ignores the next step's time and sends as it did. The rest is AFTER_STALL_PATCH's.
 *
 * Histories recorded before beginDunning and prepareDunningStep could answer
 * `ended`, and before a failed send's precondition told a payment off Stripe, hold
 * no such answer and replay as before, so no patch guards them. Likewise signals
 * and begin results recorded before a subscription's end and the invoice's creation
 * were carried hold neither time, and the end counts as it did then; an end that
 * leaves a final invoice's dunning running is guarded by FINAL_INVOICE_END_PATCH, for
 * a history made by a worker from before that got both times (a rolling deploy).
 */
export async function dunningWorkflow(input: DunningWorkflowInput): Promise<DunningResult> {
  const { beginDunning, prepareDunningStep, cancelOpenDrafts, closeDunning, finalDunningCheck } = patched(LOCAL_BOOKKEEPING_PATCH)
    ? proxyLocalActivities<Activities>(bookkeepingOptions)
    : proxyActivities<Activities>(bookkeepingOptions);
  const workflowId = workflowInfo().workflowId;
  const ref = { workspaceId: input.workspaceId, customerId: input.customerId, invoiceId: input.invoiceId, workflowId };
  let stop: DunningOutcome | null = null;
  let subscriptionId: string | null = null;
  let begun: Extract<Awaited<ReturnType<Activities['beginDunning']>>, { kind: 'open' }> | undefined;
  /** Subscription ends signalled before the invoice was read: decided once it is. */
  const earlyEnds: DunningEvent[] = [];
  const decisions = new Map<string, DraftDecision>();
  const state: DunningState = { invoiceId: input.invoiceId, phase: 'starting', stepIndex: null, steps: [], sentSteps: [], outcome: null };

  /**
   * Whether a subscription's end closes this dunning: its own subscription's, unless it
   * ended when or before the invoice was created (a final invoice, worth collecting).
   * Signals and begin results recorded before these times were carried hold neither: the end counts.
   */
  const endsThisDunning = (event: DunningEvent): boolean => {
    if (subscriptionId === null || event.subscriptionId !== subscriptionId) return false;
    if (endClosesDunning(event.subscriptionEndedAt ? new Date(event.subscriptionEndedAt) : null, begun?.invoiceCreated ? new Date(begun.invoiceCreated) : null)) return true;
    return !patched(FINAL_INVOICE_END_PATCH);
  };
  setHandler(dunningEventSignal, (event) => {
    if (stop) return;
    if (event.kind === 'payment_succeeded') stop = 'recovered';
    else if (event.kind === 'paid_out_of_band') stop = 'paid_out_of_band';
    else if (event.kind === 'subscription_deleted') {
      // Before the invoice is read its subscription is unknown: keep the end and decide then.
      if (!begun) earlyEnds.push(event);
      else if (endsThisDunning(event)) stop = 'subscription_deleted';
    }
    // payment_failed again (a Stripe retry failed): the schedule already accounts for
    // retries and each send re-reads the invoice, so nothing changes.
  });
  setHandler(draftDecisionSignal, (decision) => {
    decisions.set(decision.draftId, decision);
    // "Discard and stop": ends the sequence at once, whichever step the draft was for.
    if (decision.status === 'discarded' && decision.endSequence && !stop) stop = 'discarded';
  });
  let settingsVersion = 0;
  setHandler(playSettingsChangedSignal, () => {
    settingsVersion++;
  });
  setHandler(dunningStateQuery, () => state);

  /** Waits until `untilMs` or a stop; true when the time came without a stop. */
  const waitUntil = async (untilMs: number, wake: () => boolean = () => false): Promise<boolean> => {
    const ms = untilMs - nowMs();
    if (ms > 0) await condition(() => stop !== null || wake(), ms);
    return stop === null;
  };

  const finish = async (outcome: DunningOutcome): Promise<DunningResult> => {
    state.phase = 'finished';
    state.outcome = outcome;
    await cancelOpenDrafts({ workspaceId: input.workspaceId, workflowId, reason: `dunning ended: ${outcome}` });
    await closeDunning({ ...ref, outcome, sentSteps: state.sentSteps });
    return { outcome, sentSteps: state.sentSteps };
  };

  /** Waits after a Stripe outage (1 minute doubling to 1 hour); false when stopped meanwhile. */
  const waitForStripe = async (attempt: number): Promise<boolean> => {
    const phase = state.phase;
    state.phase = 'waiting_for_stripe';
    await condition(() => stop !== null, stripeRetryDelayMs(attempt));
    state.phase = phase;
    return stop === null;
  };

  // Start: the invoice as Stripe has it now, and the plan around its next retry.
  for (let attempt = 0; ; attempt++) {
    const result = await beginDunning({ ...ref, failedAt: input.failedAt });
    if (result.kind === 'open') {
      begun = result;
      break;
    }
    if (result.kind === 'closed') return finish(result.invoiceStatus === 'paid' ? 'recovered' : 'invoice_closed');
    if (result.kind === 'ended') return finish(result.outcome);
    if (!(await waitForStripe(attempt))) return finish(stop ?? 'exhausted');
  }
  const steps: PlannedStep[] = begun.steps;
  subscriptionId = begun.subscriptionId;
  if (earlyEnds.some(endsThisDunning)) stop = 'subscription_deleted';
  const { quietBeforeRetryMs, afterRetryMs } = begun;
  state.steps = steps.map(({ index, tone, at }) => ({ index, tone, at }));

  // A dunning begun late starts at a later step (planDunningSteps): the next step is the
  // next in the list, and the schedule's length is its last step's index + 1.
  const totalSteps = (steps[steps.length - 1]?.index ?? -1) + 1;
  let lastEmail: LastDunningEmail | null = null;
  for (const [position, planned] of steps.entries()) {
    if (stop) return finish(stop);
    state.stepIndex = planned.index;
    const next = steps[position + 1];
    /** Whether the next step is due by the time this one may go, so the next goes instead (never in runs recorded before AFTER_STALL_PATCH). */
    const overtaken = () => stepTiming(planned, next, lastEmail, nowMs()).overtaken && patched(AFTER_STALL_PATCH);
    // Reached after the next step fell due (the previous one held up): nothing is drafted for this one.
    if (overtaken()) continue;
    // After a late email: not before the spacing (the draft and the state say when).
    const spacedAt = stepTiming(planned, next, lastEmail, nowMs()).at;
    const step = spacedAt > Date.parse(planned.at) && patched(AFTER_STALL_PATCH) ? { ...planned, at: new Date(spacedAt).toISOString() } : planned;
    state.steps[position] = { index: step.index, tone: step.tone, at: step.at };
    const stepInput = { ...ref, step, totalSteps };
    /** The step's draft as the current mode wants it; waits out Stripe outages. Null when stopped, or when `giveUp` after a wait. */
    const prepare = async (giveUp: () => boolean = () => false) => {
      for (let attempt = 0; ; attempt++) {
        const prepared = await prepareDunningStep(stepInput);
        // "Discard and stop" as stored with the discard, in case its signal was lost.
        if (prepared.kind === 'ready' && prepared.draft?.endSequence && !stop) stop = 'discarded';
        if (prepared.kind === 'ready') return stop ? null : prepared;
        // Paid, closed or ended as Stripe or the mirror shows it (news no signal brought).
        if (prepared.kind === 'ended') {
          stop ??= prepared.outcome;
          return null;
        }
        if (!(await waitForStripe(attempt)) || giveUp()) return null;
      }
    };

    // Draft it now, so a reviewer can approve it before it is due. Stripe down until the
    // next step fell due: that one goes instead, and this one is never drafted.
    state.phase = 'waiting_for_step';
    if (!(await prepare(overtaken))) {
      if (!stop && overtaken()) continue;
      return finish(stop ?? 'exhausted');
    }
    if (!(await waitUntil(Date.parse(step.at)))) return finish(stop ?? 'exhausted');

    // At the step's time: the mode as it is now decides.
    let current = await prepare();
    if (!current) return finish(stop ?? 'exhausted');
    if (current.mode === 'off' || !current.draft) continue;
    const draftId = current.draft.id;
    let status: DraftStatus = current.draft.status;

    if (status === 'drafted' && current.mode === 'review') {
      state.phase = 'waiting_for_review';
      const deadline = next ? Date.parse(next.at) : Date.parse(step.at) + LAST_REVIEW_WINDOW_MS;
      while (status === 'drafted' && current.mode === 'review' && nowMs() < deadline) {
        const seenSettings = settingsVersion;
        await waitUntil(Math.min(deadline, nowMs() + REVIEW_POLL_MS), () => decisions.has(draftId) || settingsVersion !== seenSettings);
        if (stop) return finish(stop);
        decisions.delete(draftId);
        current = await prepare();
        if (!current) return finish(stop ?? 'exhausted');
        status = current.draft?.status ?? 'cancelled';
      }
    }
    if (current.mode === 'off') continue;
    // Not reviewed in time: it would now be stale; the next step takes over.
    if (status === 'drafted' && current.mode === 'review') {
      await cancelOpenDrafts({ workspaceId: input.workspaceId, workflowId, reason: 'not reviewed before the next step', draftIds: [draftId] });
      continue;
    }
    if (!isSendableDraft(status) && !(status === 'drafted' && current.mode === 'auto')) continue;

    // Send, once Stripe confirms the invoice is still unpaid and no retry of its own is imminent.
    state.phase = 'sending';
    for (let attempt = 0; ; ) {
      const sent = await sendDraft({
        draftId,
        actor: 'system:dunning',
        allowDrafted: current.mode === 'auto',
        precondition: {
          kind: 'invoice_open',
          workspaceId: input.workspaceId,
          invoiceId: input.invoiceId,
          quietBeforeRetryMs,
          afterRetryMs,
          ...(next ? { nextStepAt: next.at } : {}),
        },
      });
      if (sent.kind === 'stripe_unavailable') {
        if (!(await waitForStripe(attempt++))) return finish(stop ?? 'exhausted');
        continue;
      }
      if (sent.kind === 'retry_soon') {
        if (!(await waitUntil(Date.parse(sent.resumeAt)))) return finish(stop ?? 'exhausted');
        continue;
      }
      if (sent.kind === 'precondition_failed') {
        if (sent.invoiceStatus !== 'paid') return finish('invoice_closed');
        // Results recorded before the check told a payment off Stripe lack the field: recovered, as they ended then.
        return finish(paidEnd(sent.paidOffStripe ?? false));
      }
      if (sent.kind === 'sent' || sent.kind === 'already_sent' || sent.kind === 'unconfirmed') {
        state.sentSteps.push(step.index);
        lastEmail = { plannedAt: planned.at, sentAt: new Date(nowMs()).toISOString() };
      }
      // `overtaken`: the send's check cancelled the draft; the next step goes instead.
      break;
    }
  }

  // The sequence is over; a payment in the next days still counts as a recovery.
  state.phase = 'settling';
  state.stepIndex = null;
  await condition(() => stop !== null, SETTLE_MS);
  // No step checks during the settling days: an invoice marked paid out of band in
  // Stripe's dashboard meanwhile would otherwise be counted as exhausted.
  if (!stop && patched(FINAL_CHECK_PATCH)) {
    const paid = await finalDunningCheck(ref);
    // A payment's signal during the check wins: it is the news, the read may predate it.
    stop ??= paid;
  }
  return finish(stop ?? 'exhausted');
}
