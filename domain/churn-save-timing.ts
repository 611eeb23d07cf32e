/**
 * The churn save's timing, shared by its workflow and the radar. A module of its own,
 * with no imports: the workflow bundle holds it, and every workflow run evaluates the
 * bundle's modules afresh.
 */

/** How long a save's draft may wait for a review: after that the reasons it cites are stale. */
export const SAVE_REVIEW_WINDOW_MS = 7 * 24 * 3_600_000;
