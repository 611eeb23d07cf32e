import { z } from 'zod';

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

/**
 * The parts of a Stripe event envelope we read. Other fields are neither checked nor
 * copied into the result (the event is stored as received), so Stripe adding fields
 * never breaks ingress, and parsing costs the same whatever the object's size.
 */
export const stripeEventEnvelope = z.object({
  id: z.string().regex(/^evt_\w+$/, 'must be a Stripe event id (evt_...)'),
  object: z.literal('event'),
  type: z.string().min(1).max(200),
  created: z.number().int().positive(),
  livemode: z.boolean(),
  data: z.object({
    object: z.object({
      id: z.string().min(1).optional(),
      object: z.string().min(1),
      // A customer is an id, or an expanded object with an id.
      customer: z.union([z.string(), z.object({ id: z.string() }), z.null()]).optional(),
    }),
  }),
});

export type StripeEventEnvelope = z.infer<typeof stripeEventEnvelope>;

/** The customer an event concerns (for per-customer ordering), and the object it is about. */
export function eventSubject(event: StripeEventEnvelope): { customerId: string | null; objectId: string | null } {
  const obj = event.data.object;
  const objectId = obj.id ?? null;
  if (obj.object === 'customer') return { customerId: objectId, objectId };
  const customer = obj.customer;
  const customerId = typeof customer === 'string' ? customer : (customer?.id ?? null);
  return { customerId, objectId };
}
