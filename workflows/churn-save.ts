import { setHandler } from '@temporalio/workflow';
import type { ChurnSaveOutcome } from '../domain/churn-save';
import { SAVE_REVIEW_WINDOW_MS } from '../domain/churn-save-timing';
import { runOutreach } from './outreach';
import { outreachLocal, outreachSend as sendDraft, REVIEW_POLL_MS } from './outreach-activities';
import { churnSaveStateQuery, type OutreachState } from './play-messages';

const { prepareChurnSave, closeChurnSave, cancelOpenDrafts } = outreachLocal;

export interface ChurnSaveInput {
  workspaceId: string;
  customerId: string;
  /** The churn_saves row the radar opened (db/churn-saves.ts). */
  saveId: string;
  workflowId: string;
}

/**
 * One save outreach of the churn radar: `churn:<workspace>:<save>`, started by the
 * radar (workers/play-scans.ts) when the customer's risk reached the workspace's
 * threshold. It drafts one email with the intervention the reasons call for
 * (activities/churn-save.ts) and sends or waits for a review as workflows/outreach.ts
 * does; on the way it also ends when the customer leaves or a dunning begins. The
 * outcome ends the save and starts the customer's cooldown.
 */
export async function churnSaveWorkflow(input: ChurnSaveInput): Promise<ChurnSaveOutcome> {
  const state: OutreachState = { phase: 'drafting', draftId: null, outcome: null };
  setHandler(churnSaveStateQuery, () => state);
  return runOutreach(
    {
      prepare: () => prepareChurnSave(input),
      close: (outcome) => closeChurnSave({ ...input, outcome }),
      cancelOpen: (reason) => cancelOpenDrafts({ workspaceId: input.workspaceId, workflowId: input.workflowId, reason }).then(() => undefined),
      send: (draftId, allowDrafted) => sendDraft({ draftId, actor: 'system:churn', allowDrafted, waitForSender: true }),
      reviewWindowMs: SAVE_REVIEW_WINDOW_MS,
      pollMs: REVIEW_POLL_MS,
      label: 'churn save',
    },
    state,
  );
}
