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

/** The Stripe objects the subscribed events carry, which the mirror can also read again from Stripe. */
export const MIRRORED_OBJECTS = ['subscription', 'invoice', 'charge'] as const;
export type MirroredObject = (typeof MIRRORED_OBJECTS)[number];

/** The object a subscribed event carries (its `data.object`). */
export function objectOf(type: SubscribedEventType): MirroredObject {
  switch (type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return 'subscription';
    case 'invoice.payment_failed':
    case 'invoice.payment_succeeded':
      return 'invoice';
    case 'charge.refunded':
      return 'charge';
  }
}

/**
 * Whether an object is an input of MRR: subscriptions and invoices are; a charge (its
 * refunds) is not (refunds do not change MRR, docs/metrics.md), so the analytics need
 * no recompute for it.
 */
export function isMrrInput(object: MirroredObject): boolean {
  return object !== 'charge';
}

/** Whether an event's object is an input of MRR (isMrrInput). */
export function changesMrrInputs(type: SubscribedEventType): boolean {
  return isMrrInput(objectOf(type));
}

/**
 * Not a Stripe event: the inbox's note to read an object from Stripe as it is now. It
 * is made when an owner gives up on a failing event (the state that event would have
 * brought), when a sync's page cannot be ordered against an object's mirrored state
 * (see syncRereadEventId), or when Wysera learns of an invoice's change that no
 * subscribed event brings (see invoiceRereadEventId). The relay takes it in the
 * customer's order like any event, writes what Stripe answers to the mirror and
 * recomputes the customer's analytics, so the mirror need not wait for the object's
 * next event or the next sync. No play acts on it.
 */
export const REREAD_EVENT_TYPE = 'wysera.reread';

/**
 * How Wysera noticed, with no subscribed event to say so, that Stripe's invoice changed:
 * it marked the invoice paid out of band itself, or a dunning's check read it from
 * Stripe in another status than the mirror's (marked paid out of band, voided or
 * written off in Stripe's dashboard: Stripe sends invoice.paid, invoice.voided or
 * invoice.marked_uncollectible, none of them subscribed).
 */
export const REREAD_NOTICES = ['marked_paid_out_of_band', 'dunning_check'] as const;
export type RereadNotice = (typeof REREAD_NOTICES)[number];

/** A re-read's payload: which object, and why it was queued (the event given up on, the sync run, or what Wysera noticed). */
export interface RereadPayload {
  object: MirroredObject;
  id: string;
  givenUpEventId?: string | undefined;
  syncRunId?: string | undefined;
  /** A RereadNotice as written; read as any text (a later version's value is only shown). */
  noticed?: string | undefined;
}

/** A re-read's event id in the inbox (one per given-up event; Stripe's ids start with `evt_`). */
export const rereadEventId = (givenUpEventId: string) => `reread_${givenUpEventId}`;

/** A sync's re-read's event id: at most one per object and run. Run ids start with `sync_`, never `evt_`. */
export const syncRereadEventId = (runId: string, objectId: string) => `reread_${runId}_${objectId}`;

/**
 * The re-read of an invoice Wysera found in `status` in Stripe (REREAD_NOTICES): one per
 * invoice and status, however often it is noticed. Invoice ids start with `in_`.
 */
export const invoiceRereadEventId = (invoiceId: string, status: string) => `reread_${invoiceId}_${status}`;
