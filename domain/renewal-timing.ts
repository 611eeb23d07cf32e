/**
 * The renewal note's timing, shared by its workflow and the scan. A module of its own,
 * with no imports: the workflow bundle holds it.
 */

/** The longest a note may wait for a review: up to the renewal, which the play drafts at most 90 days before. */
export const RENEWAL_REVIEW_MAX_MS = 90 * 24 * 3_600_000;
/** The scan writes about no renewal closer than this: a person would have no time to read the note. */
export const RENEWAL_SOONEST_MS = 24 * 3_600_000;
