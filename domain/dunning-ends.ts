/**
 * When a dunning has nothing left to ask for, judged from its invoice as Stripe or
 * the mirror has it and from the subscription the invoice bills. Signals stop a
 * dunning as events arrive; this rule catches what no signal brings: an invoice
 * marked paid out of band, voided or written off in Stripe's dashboard (Stripe sends
 * invoice.paid, invoice.voided and invoice.marked_uncollectible for those, none of
 * them an event Wysera subscribes to), and a subscription's end delivered before the
 * failure that started the dunning.
 */
export type DunningEnd = 'recovered' | 'paid_out_of_band' | 'invoice_closed' | 'subscription_deleted';

export interface DunningEndFacts {
  /** The invoice's status: draft | open | paid | uncollectible | void; null when not known. */
  invoiceStatus: string | null;
  /**
   * With a paid invoice: whether it was paid outside Stripe (marked paid out of band).
   * Null when not known: the mirror does not keep it, so a paid invoice the mirror
   * alone shows is left to the payment's signal or the next read of Stripe.
   */
  paidOffStripe: boolean | null;
  invoiceCreated: Date | null;
  /** The status of the subscription the invoice bills; null without one, or when not mirrored. */
  subscriptionStatus: string | null;
  subscriptionEndedAt: Date | null;
}

/**
 * Invoice states Stripe never reopens or retries: void for good; uncollectible may
 * still be paid by hand, but Stripe collects no more and a send's check (invoice
 * open) would refuse every email, so the dunning has nothing left to do.
 */
const CLOSED_INVOICE = new Set(['void', 'uncollectible']);
/** Subscription states that never bill again. */
const ENDED_SUBSCRIPTION = new Set(['canceled', 'incomplete_expired']);

/** How a paid invoice's dunning ends: a payment outside Stripe (marked paid out of band) is not a recovery by the customer. */
export function paidEnd(paidOffStripe: boolean): 'recovered' | 'paid_out_of_band' {
  return paidOffStripe ? 'paid_out_of_band' : 'recovered';
}

/**
 * Whether a subscription's end closes the dunning of an invoice it billed. A
 * subscription cancelled "now" bills its final usage in an invoice created at the
 * moment it ends: that invoice is still worth collecting. An end after the invoice
 * was created (retries exhausted, the customer left) closes its dunning. Without both
 * times the end counts.
 */
export function endClosesDunning(subscriptionEndedAt: Date | null, invoiceCreated: Date | null): boolean {
  return !(subscriptionEndedAt && invoiceCreated && subscriptionEndedAt.getTime() <= invoiceCreated.getTime());
}

export function dunningEnd(facts: DunningEndFacts): DunningEnd | null {
  if (facts.invoiceStatus === 'paid') return facts.paidOffStripe === null ? null : paidEnd(facts.paidOffStripe);
  if (facts.invoiceStatus !== null && CLOSED_INVOICE.has(facts.invoiceStatus)) return 'invoice_closed';
  if (facts.subscriptionStatus === null || !ENDED_SUBSCRIPTION.has(facts.subscriptionStatus)) return null;
  // The same rule as a subscription.deleted signal reaching the running dunning.
  return endClosesDunning(facts.subscriptionEndedAt, facts.invoiceCreated) ? 'subscription_deleted' : null;
}
