/**
 * When a dunning has nothing left to ask for, judged from the mirror (the Stripe state
 * that syncs and every webhook event keep). Signals stop a dunning as its events
 * arrive; this rule catches what no signal brings: an invoice voided or written off
 * (Stripe's invoice.voided and invoice.marked_uncollectible are not among the events
 * Wysera subscribes to, so only a sync tells), and a subscription's end delivered
 * before the failure that started the dunning.
 */
export type MirroredDunningEnd = 'invoice_closed' | 'subscription_deleted';

export interface MirroredDunningFacts {
  /** The invoice's status: draft | open | paid | uncollectible | void; null when not mirrored. */
  invoiceStatus: string | null;
  invoiceCreated: Date | null;
  /** The status of the subscription the invoice bills; null without one, or when not mirrored. */
  subscriptionStatus: string | null;
  subscriptionEndedAt: Date | null;
}

/** Invoice states no payment of the open amount can follow (Stripe never reopens them). */
const CLOSED_INVOICE = new Set(['void', 'uncollectible']);
/** Subscription states that never bill again. */
const ENDED_SUBSCRIPTION = new Set(['canceled', 'incomplete_expired']);

export function mirroredDunningEnd(facts: MirroredDunningFacts): MirroredDunningEnd | null {
  if (facts.invoiceStatus !== null && CLOSED_INVOICE.has(facts.invoiceStatus)) return 'invoice_closed';
  if (facts.subscriptionStatus === null || !ENDED_SUBSCRIPTION.has(facts.subscriptionStatus)) return null;
  // A subscription cancelled "now" bills its final usage in an invoice created at the
  // moment it ends: that invoice is still worth collecting. An end after the invoice
  // was created (retries exhausted, the customer left) closes its dunning, as the
  // subscription.deleted signal does. Without both times the end counts.
  const { subscriptionEndedAt: endedAt, invoiceCreated: created } = facts;
  if (endedAt && created && endedAt.getTime() <= created.getTime()) return null;
  return 'subscription_deleted';
}
