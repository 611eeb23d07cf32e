/**
 * The lifecycle of a draft, shared by every play:
 *
 *   drafted ──approve──▶ approved ─┐
 *      │  └──edit────▶ edited ─────┼──▶ (step time) sent | failed
 *      │                            │
 *   scheduled (auto mode) ──────────┘
 *   any unsent state ──▶ discarded (a person) | cancelled (the play ended, or the mode went off)
 *
 * A scheduled draft returns to drafted when the play's mode changes from auto to
 * review before its step. Every transition is audited with its actor.
 */
export const DRAFT_STATUSES = ['drafted', 'approved', 'edited', 'discarded', 'scheduled', 'sent', 'failed', 'cancelled'] as const;
export type DraftStatus = (typeof DRAFT_STATUSES)[number];

/** Statuses in which a draft may still change (the others are final). */
export const OPEN_DRAFT_STATUSES: readonly DraftStatus[] = ['drafted', 'approved', 'edited', 'scheduled'];
/** Statuses in which a draft goes out at its step time. */
export const SENDABLE_DRAFT_STATUSES: readonly DraftStatus[] = ['approved', 'edited', 'scheduled'];

const transitions: Record<DraftStatus, readonly DraftStatus[]> = {
  drafted: ['approved', 'edited', 'discarded', 'scheduled', 'cancelled'],
  approved: ['edited', 'discarded', 'sent', 'failed', 'cancelled', 'drafted'],
  edited: ['approved', 'edited', 'discarded', 'sent', 'failed', 'cancelled', 'drafted'],
  scheduled: ['drafted', 'edited', 'discarded', 'sent', 'failed', 'cancelled'],
  discarded: [],
  sent: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: DraftStatus, to: DraftStatus): boolean {
  return transitions[from].includes(to);
}

export const isOpenDraft = (s: DraftStatus) => OPEN_DRAFT_STATUSES.includes(s);
export const isSendableDraft = (s: DraftStatus) => SENDABLE_DRAFT_STATUSES.includes(s);
