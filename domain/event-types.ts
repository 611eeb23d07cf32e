// Free of libraries on purpose: the workflow bundle imports this module (through
// play-routing), and every workflow run evaluates the bundle's modules afresh when
// it starts, so a library here (zod was) would cost every run its set-up time.

/** The Stripe event types the plays act on; every other type is recorded and ignored. */
export const SUBSCRIBED_EVENT_TYPES = [
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.payment_failed',
  'invoice.payment_succeeded',
  'charge.refunded',
] as const;

export type SubscribedEventType = (typeof SUBSCRIBED_EVENT_TYPES)[number];

export function isSubscribedEventType(type: string): type is SubscribedEventType {
  return (SUBSCRIBED_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * Whether an event's object is an input of MRR: subscriptions and invoices are; a
 * refund is not (refunds do not change MRR, docs/metrics.md), so the analytics need
 * no recompute for it.
 */
export function changesMrrInputs(type: SubscribedEventType): boolean {
  return type !== 'charge.refunded';
}
