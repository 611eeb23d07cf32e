import { z } from 'zod';

/** Stripe's ids are at most 255 characters; the bound also keeps every id within what Postgres can index. */
const STRIPE_ID_MAX = 255;
const stripeId = z.string().min(1).max(STRIPE_ID_MAX);
/** 9999-12-31T23:59:59Z: any later time is not a real event's, and Postgres and Date cannot hold them all. */
const LATEST_CREATED = 253_402_300_799;

/**
 * The parts of a Stripe event envelope we read. Other fields are neither checked nor
 * copied into the result (the event is stored as received), so Stripe adding fields
 * never breaks ingress, and parsing costs the same whatever the object's size.
 */
export const stripeEventEnvelope = z.object({
  id: stripeId.regex(/^evt_\w+$/, 'must be a Stripe event id (evt_...)'),
  object: z.literal('event'),
  type: z.string().min(1).max(200),
  created: z.number().int().positive().max(LATEST_CREATED, 'must be a Unix time in seconds no later than 9999-12-31'),
  livemode: z.boolean(),
  data: z.object({
    object: z.object({
      id: stripeId.optional(),
      object: z.string().min(1),
      // A customer is an id, or an expanded object with an id.
      customer: z.union([stripeId, z.object({ id: stripeId }), z.null()]).optional(),
    }),
  }),
});

export type StripeEventEnvelope = z.infer<typeof stripeEventEnvelope>;

const thinEvent = z.object({ object: z.literal('v2.core.event'), type: z.string().optional() });

/**
 * Why a body is a thin event, which Wysera cannot read, or undefined. Stripe's event
 * destinations can send thin events (`object: "v2.core.event"`, for v1 resources as
 * `v1.<type>`): a reference to the object without its state, to be fetched. Wysera
 * reads the snapshot events a webhook endpoint sends, whose payload holds the object
 * as it was, and says so instead of naming the first field a thin event lacks.
 */
export function thinEventProblem(body: unknown): string | undefined {
  const thin = thinEvent.safeParse(body);
  if (!thin.success) return undefined;
  return `a thin event${thin.data.type ? ` (${thin.data.type})` : ''}: Wysera reads snapshot events, whose payload holds the object; send these events from an event destination whose payload style is snapshot (a webhook endpoint's default)`;
}

/** The customer an event concerns (for per-customer ordering), and the object it is about. */
export function eventSubject(event: StripeEventEnvelope): { customerId: string | null; objectId: string | null } {
  const obj = event.data.object;
  const objectId = obj.id ?? null;
  if (obj.object === 'customer') return { customerId: objectId, objectId };
  const customer = obj.customer;
  const customerId = typeof customer === 'string' ? customer : (customer?.id ?? null);
  return { customerId, objectId };
}

const endedObject = z.object({ data: z.object({ object: z.object({ ended_at: z.number().int().positive().max(LATEST_CREATED).nullish() }) }) });

/** When the event's object (a subscription) ended, ISO-8601 UTC; undefined when it has not, or says nothing of it. */
export function objectEndedAt(payload: unknown): string | undefined {
  const parsed = endedObject.safeParse(payload);
  const endedAt = parsed.success ? parsed.data.data.object.ended_at : null;
  return endedAt ? new Date(endedAt * 1000).toISOString() : undefined;
}
