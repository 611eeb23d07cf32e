import { defineQuery, defineSignal } from '@temporalio/workflow';

/** A Stripe event as the relay hands it to a customer's workflow. Plain JSON only. */
export interface StripeEventSignal {
  /** Stripe's event id (evt_...); workflows drop a second delivery of the same id. */
  eventId: string;
  type: string;
  /** When Stripe created the event, ISO-8601 UTC. */
  stripeCreated: string;
  /** The id of the object the event is about (sub_..., in_..., ch_...). */
  objectId: string | null;
  /** The inbox row the event came from. */
  inboxSeq: number;
}

export const stripeEventSignal = defineSignal<[StripeEventSignal]>('stripeEvent');
export const recentEventsQuery = defineQuery<StripeEventSignal[]>('recentEvents');
