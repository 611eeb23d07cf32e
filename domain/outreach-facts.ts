/**
 * What the one-email plays' emails cite, shared by their facts. No zod here: the web
 * pages import it.
 */

/** A billing period as an email names it: "month", "year", "3 months". */
export function periodText(interval: string, intervalCount: number): string {
  return intervalCount === 1 ? interval : `${intervalCount} ${interval}s`;
}

/**
 * A plan as an email names it: its name in the workspace's product mapping, else its
 * product's; null for a product the mirror holds no name of (its id is no name to give
 * a customer: the templates write "your plan" instead).
 */
export function planName(mapping: readonly { productId: string; planName: string }[], plan: { productId: string; productName: string | null }): string | null {
  return mapping.find((m) => m.productId === plan.productId)?.planName ?? plan.productName;
}

/**
 * What an email may cite of a play's facts: all but `risk`, which is for the
 * reviewer. Templates render against these and are checked against them, so an
 * override that cites the score is refused when stored.
 */
export function emailFacts<T extends { risk?: unknown }>(facts: T): Omit<T, 'risk'> {
  const { risk: _forReviewers, ...cited } = facts;
  return cited;
}
