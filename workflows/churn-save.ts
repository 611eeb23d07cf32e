import { condition, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { ChurnSaveOutcome } from '../domain/churn-save';
import { SAVE_REVIEW_WINDOW_MS } from '../domain/churn-save-timing';
import { isSendableDraft, type DraftStatus } from '../domain/drafts';
import { churnSaveStateQuery, draftDecisionSignal, playSettingsChangedSignal, type ChurnSaveState } from './play-messages';

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

// The workflow sandbox makes `new Date()` the deterministic time of the current workflow task.
const nowMs = () => new Date().getTime();

/**
 * One save outreach of the churn radar: `churn:<workspace>:<save>`, started by the
 * radar (workers/churn-radar.ts) when the customer's risk reached the workspace's
 * threshold. It drafts one email with the intervention the reasons call for
 * (activities/churn-save.ts); in auto mode it goes out at once, in review mode it
 * waits up to SAVE_REVIEW_WINDOW_MS for a person, re-reading the mode (off cancels)
 * and the customer (gone: cancelled) as it waits. The outcome ends the save and
 * starts the customer's cooldown.
 */
export async function churnSaveWorkflow(input: ChurnSaveInput): Promise<ChurnSaveOutcome> {
  const state: ChurnSaveState = { phase: 'drafting', draftId: null, outcome: null };
  let decided = 0;
  let settingsVersion = 0;
  setHandler(draftDecisionSignal, () => void decided++);
  setHandler(playSettingsChangedSignal, () => void settingsVersion++);
  setHandler(churnSaveStateQuery, () => state);

  const finish = async (outcome: ChurnSaveOutcome): Promise<ChurnSaveOutcome> => {
    state.phase = 'finished';
    state.outcome = outcome;
    await cancelOpenDrafts({ workspaceId: input.workspaceId, workflowId: input.workflowId, reason: `churn save ended: ${outcome}` });
    await closeChurnSave({ ...input, outcome });
    return outcome;
  };
  /** The outcome of a draft a person or the play settled before it was sent. */
  const settled = (status: DraftStatus): ChurnSaveOutcome => (status === 'sent' ? 'sent' : status === 'failed' ? 'failed' : status === 'discarded' ? 'discarded' : 'off');

  let current = await prepareChurnSave(input);
  if (current.kind === 'ended') return finish(current.outcome);
  if (current.mode === 'off' || !current.draft) return finish('off');
  const draftId = current.draft.id;
  state.draftId = draftId;
  let status = current.draft.status;

  const deadline = nowMs() + SAVE_REVIEW_WINDOW_MS;
  state.phase = 'waiting_for_review';
  while (status === 'drafted' && current.mode === 'review' && nowMs() < deadline) {
    const seen = { decided, settingsVersion };
    await condition(() => decided !== seen.decided || settingsVersion !== seen.settingsVersion, Math.min(REVIEW_POLL_MS, deadline - nowMs()));
    current = await prepareChurnSave(input);
    if (current.kind === 'ended') return finish(current.outcome);
    status = current.draft?.status ?? 'cancelled';
  }
  if (current.mode === 'off') return finish('off');
  if (status === 'drafted' && current.mode === 'review') return finish('expired');
  if (!isSendableDraft(status) && !(status === 'drafted' && current.mode === 'auto')) return finish(settled(status));

  state.phase = 'sending';
  const sent = await sendDraft({ draftId, actor: 'system:churn', allowDrafted: current.mode === 'auto' });
  if (sent.kind === 'sent' || sent.kind === 'already_sent' || sent.kind === 'unconfirmed') return finish('sent');
  if (sent.kind === 'not_sendable') return finish(settled(sent.status as DraftStatus));
  return finish('failed');
}
