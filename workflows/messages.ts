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
  /**
   * With customer.subscription.deleted: the subscription's `ended_at`, ISO-8601 UTC
   * (domain/dunning-ends.ts endClosesDunning). Absent in signals sent before it was
   * carried, and when the event has none.
   */
  subscriptionEndedAt?: string;
}

/** One event. Kept for histories and relays that deliver events one at a time. */
export const stripeEventSignal = defineSignal<[StripeEventSignal]>('stripeEvent');
/**
 * Several events of one customer, in inbox order. The relay sends everything a
 * customer has pending in one signal: a backlog then costs one Temporal call per
 * customer instead of one per event.
 */
export const stripeEventsSignal = defineSignal<[StripeEventSignal[]]>('stripeEvents');
export const recentEventsQuery = defineQuery<StripeEventSignal[]>('recentEvents');
