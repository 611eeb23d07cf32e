/**
 * The expansion pitch's timing, shared by its workflow and the scan. A module of its
 * own, with no imports: the workflow bundle holds it.
 */

/** How long a pitch's draft may wait for a review: after that the use it cites is stale. */
export const EXPANSION_REVIEW_WINDOW_MS = 7 * 24 * 3_600_000;
