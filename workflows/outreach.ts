import { condition, setHandler } from '@temporalio/workflow';
import { isSendableDraft, type DraftStatus } from '../domain/drafts';
import { draftDecisionSignal, playSettingsChangedSignal, type OutreachState } from './play-messages';

/** What an outreach's prepare activity answers: the draft as the play's mode wants it, or an end found before sending. */
export type PreparedOutreach<Ended extends string> = { kind: 'ready'; mode: 'off' | 'review' | 'auto'; draft: { id: string; status: DraftStatus } | null } | { kind: 'ended'; outcome: Ended };

/** The outcomes every outreach can end with; a play adds its own through `prepare`. */
export type OutreachEnd = 'sent' | 'discarded' | 'expired' | 'off' | 'failed' | 'no_sender';

export interface OutreachSteps<Ended extends string> {
  /** Drafts the one email the first time, then brings it in line with the mode and the customer as they are now (a local activity). */
  prepare(): Promise<PreparedOutreach<Ended>>;
  /** Records the outcome on the play's row (a local activity). */
  close(outcome: OutreachEnd | Ended): Promise<void>;
  /** Cancels the drafts still open when it ends (a local activity). */
  cancelOpen(reason: string): Promise<void>;
  /**
   * Sends the approved (or, in auto mode, drafted) draft through the send ledger;
   * `no_sender` when the workspace has nothing to send with yet (the draft left as it
   * was, to try again).
   */
  send(draftId: string, allowDrafted: boolean): Promise<{ kind: string; status?: string }>;
  /** How long a draft may wait for a person before it is stale. */
  reviewWindowMs: number;
  /** A time (ms since the epoch) after which it is stale whatever the window (a renewal's date). */
  reviewUntilMs?: number;
  /** How often a waiting review re-reads the draft, the mode and the customer (signals wake it sooner). */
  pollMs: number;
  /** Names the play in the reason its drafts are cancelled with ("churn save", "expansion pitch"). */
  label: string;
}

// The workflow sandbox makes `new Date()` the deterministic time of the current workflow task.
const nowMs = () => new Date().getTime();

/**
 * One email of a play to one customer, the shape the churn save and the expansion
 * pitch share: draft it; in auto mode send it at once; in review mode wait up to the
 * review window for a person, re-reading the mode (off cancels) and the customer as
 * it waits; then send what was approved, or end with why not. `state` is what the
 * workflow's query answers.
 */
export async function runOutreach<Ended extends string>(steps: OutreachSteps<Ended>, state: OutreachState): Promise<OutreachEnd | Ended> {
  let decided = 0;
  let settingsVersion = 0;
  setHandler(draftDecisionSignal, () => void decided++);
  setHandler(playSettingsChangedSignal, () => void settingsVersion++);

  const finish = async (outcome: OutreachEnd | Ended): Promise<OutreachEnd | Ended> => {
    state.phase = 'finished';
    state.outcome = outcome;
    await steps.cancelOpen(`${steps.label} ended: ${outcome}`);
    await steps.close(outcome);
    return outcome;
  };
  /** The outcome of a draft a person or the play settled before it was sent. */
  const settled = (status: DraftStatus): OutreachEnd => (status === 'sent' ? 'sent' : status === 'failed' ? 'failed' : status === 'discarded' ? 'discarded' : 'off');

  let current = await steps.prepare();
  if (current.kind === 'ended') return finish(current.outcome);
  if (current.mode === 'off' || !current.draft) return finish('off');
  const draftId = current.draft.id;
  state.draftId = draftId;
  let status = current.draft.status;

  const deadline = Math.min(nowMs() + steps.reviewWindowMs, steps.reviewUntilMs ?? Infinity);
  for (;;) {
    state.phase = 'waiting_for_review';
    while (status === 'drafted' && current.mode === 'review' && nowMs() < deadline) {
      const seen = { decided, settingsVersion };
      await condition(() => decided !== seen.decided || settingsVersion !== seen.settingsVersion, Math.min(steps.pollMs, deadline - nowMs()));
      current = await steps.prepare();
      if (current.kind === 'ended') return finish(current.outcome);
      status = current.draft?.status ?? 'cancelled';
    }
    if (current.mode === 'off') return finish('off');
    if (status === 'drafted' && current.mode === 'review') return finish('expired');
    if (!isSendableDraft(status) && !(status === 'drafted' && current.mode === 'auto')) return finish(settled(status));

    state.phase = 'sending';
    // Taken before the send: a settings save that lands while it runs still wakes the wait below.
    const seen = { decided, settingsVersion };
    const sent = await steps.send(draftId, current.mode === 'auto');
    if (sent.kind === 'sent' || sent.kind === 'already_sent' || sent.kind === 'unconfirmed') return finish('sent');
    if (sent.kind === 'not_sendable') return finish(settled(sent.status as DraftStatus));
    if (sent.kind !== 'no_sender') return finish('failed');
    // A workspace not set up to send yet: the draft waits (not failed, so the customer does
    // not cool down for it) until it is, or until it would be stale. Saving the email
    // settings wakes it, as a settings change does; a change of mode or a person's
    // decision meanwhile is taken as in a review.
    if (nowMs() >= deadline) return finish('no_sender');
    state.phase = 'waiting_for_sender';
    await condition(() => decided !== seen.decided || settingsVersion !== seen.settingsVersion, Math.min(steps.pollMs, deadline - nowMs()));
    // Past the deadline the draft is stale, whatever woke the wait: it does not go.
    if (nowMs() >= deadline) return finish('no_sender');
    current = await steps.prepare();
    if (current.kind === 'ended') return finish(current.outcome);
    status = current.draft?.status ?? 'cancelled';
  }
}
