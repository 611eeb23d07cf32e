import { setHandler } from '@temporalio/workflow';
import type { ExpansionOutcome } from '../domain/expansion';
import { EXPANSION_REVIEW_WINDOW_MS } from '../domain/expansion-timing';
import { runOutreach } from './outreach';
import { outreachLocal, outreachSend as sendDraft, REVIEW_POLL_MS } from './outreach-activities';
import { expansionPitchStateQuery, type OutreachState } from './play-messages';

const { prepareExpansionPitch, closeExpansionPitch, cancelOpenDrafts } = outreachLocal;

export interface ExpansionPitchInput {
  workspaceId: string;
  customerId: string;
  /** The expansion_pitches row the scan opened (db/expansion-pitches.ts). */
  pitchId: string;
  workflowId: string;
}

/**
 * One upgrade pitch of the expansion play: `expansion:<workspace>:<pitch>`, started by
 * the play's scan (activities/expansion.ts) when a customer neared a usage limit or
 * added seats. It drafts one email citing their use and the plan up, and sends or
 * waits for a review as workflows/outreach.ts does; it also ends when the customer
 * leaves, a dunning begins or their churn risk reaches the churn play's threshold.
 */
export async function expansionPitchWorkflow(input: ExpansionPitchInput): Promise<ExpansionOutcome> {
  const state: OutreachState = { phase: 'drafting', draftId: null, outcome: null };
  setHandler(expansionPitchStateQuery, () => state);
  return runOutreach(
    {
      prepare: () => prepareExpansionPitch(input),
      close: (outcome) => closeExpansionPitch({ ...input, outcome }),
      cancelOpen: (reason) => cancelOpenDrafts({ workspaceId: input.workspaceId, workflowId: input.workflowId, reason }).then(() => undefined),
      send: (draftId, allowDrafted) => sendDraft({ draftId, actor: 'system:expansion', allowDrafted, waitForSender: true }),
      reviewWindowMs: EXPANSION_REVIEW_WINDOW_MS,
      pollMs: REVIEW_POLL_MS,
      label: 'expansion pitch',
    },
    state,
  );
}
