import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Messages of the play workflows (dunning first; renewal, churn and expansion reuse
 * the draft decision signal). Plain JSON only.
 */

/**
 * A person decided on a draft through the API. The API commits the decision (and
 * its audit entry) before signalling, so the signal only wakes the workflow early:
 * the workflow also re-reads the draft while it waits, and a lost signal costs time,
 * never the decision.
 */
export interface DraftDecision {
  draftId: string;
  status: 'approved' | 'edited' | 'discarded';
  /** With a discard: stop the whole sequence, not only this draft. */
  endSequence?: boolean;
}
export const draftDecisionSignal = defineSignal<[DraftDecision]>('draftDecision');

/**
 * A play's settings changed (e.g. its rollout mode): running workflows re-read them
 * now instead of at their next check. Sent by the API, best effort.
 */
export const playSettingsChangedSignal = defineSignal('playSettingsChanged');

/** Something happened to a dunning workflow's invoice or subscription. */
export interface DunningEvent {
  kind: 'payment_failed' | 'payment_succeeded' | 'subscription_deleted' | 'paid_out_of_band';
  /** The Stripe event it came from, when it came from one. */
  eventId: string | null;
  /** With subscription_deleted: which subscription ended. */
  subscriptionId: string | null;
  /** With subscription_deleted: when it ended (ISO-8601 UTC), when known; without it the end closes the dunning. */
  subscriptionEndedAt?: string;
  /** ISO-8601 UTC. */
  at: string;
}
export const dunningEventSignal = defineSignal<[DunningEvent]>('dunningEvent');

export type DunningOutcome = 'recovered' | 'paid_out_of_band' | 'invoice_closed' | 'subscription_deleted' | 'discarded' | 'exhausted';

export interface DunningState {
  invoiceId: string;
  phase: 'starting' | 'waiting_for_step' | 'waiting_for_review' | 'waiting_for_stripe' | 'sending' | 'settling' | 'finished';
  /** The step being worked on, from 0. */
  stepIndex: number | null;
  steps: { index: number; tone: string; at: string }[];
  sentSteps: number[];
  outcome: DunningOutcome | null;
}
export const dunningStateQuery = defineQuery<DunningState>('dunningState');

/** Where a one-email outreach stands (workflows/outreach.ts): a churn save, an expansion pitch. */
export interface OutreachState {
  phase: 'drafting' | 'waiting_for_review' | 'sending' | 'waiting_for_sender' | 'finished';
  draftId: string | null;
  outcome: string | null;
}
export const churnSaveStateQuery = defineQuery<OutreachState>('churnSaveState');
export const expansionPitchStateQuery = defineQuery<OutreachState>('expansionPitchState');
export const renewalNoteStateQuery = defineQuery<OutreachState>('renewalNoteState');
