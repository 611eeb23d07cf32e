import { proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { ChurnSaveOutcome } from '../domain/churn-save';
import { SAVE_REVIEW_WINDOW_MS } from '../domain/churn-save-timing';
import { runOutreach } from './outreach';
import { churnSaveStateQuery, type OutreachState } from './play-messages';

type Activities = ReturnType<typeof createActivities>;

// Reads and draft bookkeeping: local (no round trip through the server each), retried until they work.
const { prepareChurnSave, closeChurnSave, cancelOpenDrafts } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});
// Sending: a provider's 429/5xx is retried with backoff; the send ledger keeps the draft to one email.
const { sendDraft } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
});

export interface ChurnSaveInput {
  workspaceId: string;
  customerId: string;
  /** The churn_saves row the radar opened (db/churn-saves.ts). */
  saveId: string;
  workflowId: string;
}

/** A waiting review re-reads the draft, the mode and the customer this often (signals wake it sooner). */
const REVIEW_POLL_MS = 6 * 3_600_000;

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
      send: (draftId, allowDrafted) => sendDraft({ draftId, actor: 'system:churn', allowDrafted }),
      reviewWindowMs: SAVE_REVIEW_WINDOW_MS,
      pollMs: REVIEW_POLL_MS,
      label: 'churn save',
    },
    state,
  );
}
