import { setHandler } from '@temporalio/workflow';
import type { RenewalOutcome } from '../domain/renewal';
import { RENEWAL_REVIEW_MAX_MS } from '../domain/renewal-timing';
import { runOutreach } from './outreach';
import { outreachLocal, outreachSend as sendDraft, REVIEW_POLL_MS } from './outreach-activities';
import { renewalNoteStateQuery, type OutreachState } from './play-messages';

const { prepareRenewalNote, closeRenewalNote, cancelOpenDrafts } = outreachLocal;

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
      send: (draftId, allowDrafted) => sendDraft({ draftId, actor: 'system:renewal', allowDrafted, waitForSender: true }),
      reviewWindowMs: RENEWAL_REVIEW_MAX_MS,
      // A note after the renewal is stale: the review ends at its date.
      reviewUntilMs: new Date(input.renewsAt).getTime(),
      pollMs: REVIEW_POLL_MS,
      label: 'renewal note',
    },
    state,
  );
}
