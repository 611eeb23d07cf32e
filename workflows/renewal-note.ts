import { proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { RenewalOutcome } from '../domain/renewal';
import { RENEWAL_REVIEW_MAX_MS } from '../domain/renewal-timing';
import { runOutreach } from './outreach';
import { renewalNoteStateQuery, type OutreachState } from './play-messages';

type Activities = ReturnType<typeof createActivities>;

// Reads and draft bookkeeping: local, retried until they work.
const { prepareRenewalNote, closeRenewalNote, cancelOpenDrafts } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});
// Sending: a provider's 429/5xx is retried with backoff; the send ledger keeps the draft to one email.
const { sendDraft } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
});

export interface RenewalNoteInput {
  workspaceId: string;
  customerId: string;
  /** The renewal_notes row the scan opened (db/renewal-notes.ts). */
  noteId: string;
  workflowId: string;
  subscriptionId: string;
  /** When the subscription renews (ISO). */
  renewsAt: string;
}

/** A waiting review re-reads the draft, the mode and the subscription this often (signals wake it sooner). */
const REVIEW_POLL_MS = 6 * 3_600_000;

/**
 * One renewal note: `renewal:<workspace>:<note>`, started by the renewal play's scan
 * (activities/renewal.ts) some days before a long-term subscription renews. It drafts
 * one email and sends or waits for a review as workflows/outreach.ts does, until the
 * renewal date at the latest (a note after it is stale); it also ends when the
 * subscription renews first, moves its date, will not renew, or a dunning begins.
 */
export async function renewalNoteWorkflow(input: RenewalNoteInput): Promise<RenewalOutcome> {
  const state: OutreachState = { phase: 'drafting', draftId: null, outcome: null };
  setHandler(renewalNoteStateQuery, () => state);
  return runOutreach(
    {
      prepare: () => prepareRenewalNote(input),
      close: (outcome) => closeRenewalNote({ ...input, outcome }),
      cancelOpen: (reason) => cancelOpenDrafts({ workspaceId: input.workspaceId, workflowId: input.workflowId, reason }).then(() => undefined),
      send: (draftId, allowDrafted) => sendDraft({ draftId, actor: 'system:renewal', allowDrafted }),
      reviewWindowMs: RENEWAL_REVIEW_MAX_MS,
      // A note after the renewal is stale: the review ends at its date.
      reviewUntilMs: new Date(input.renewsAt).getTime(),
      pollMs: REVIEW_POLL_MS,
      label: 'renewal note',
    },
    state,
  );
}
