/**
 * The version of the rules the stored analytics were computed by (MRR, movements,
 * cohorts). Raise it with every change that moves a stored figure: the worker then
 * recomputes each workspace computed by older rules (workers/catch-up.ts), so the
 * dashboard never shows history by one rule and new events by another.
 * - 1: the rules before versions were kept (a workspace stored with none);
 * - 2: a prorated line on a package or tiered price is valued at what its price
 *   charges a full period for the quantity, not per unit or scaled by the days.
 */
export const ANALYTICS_RULES_VERSION = 2;
