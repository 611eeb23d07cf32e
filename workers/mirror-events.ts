import type Stripe from 'stripe';
import type { Db } from '../db/knex';
import { upsertCharges, upsertInvoices, upsertRefunds, upsertSubscriptions } from '../db/mirror';
import type { SubscribedEventType } from '../domain/stripe-events';

/**
 * Applies a subscribed Stripe event's object to the mirror, as the state of
 * `event.created`. The mirror keeps whichever state is newest, so events applied
 * out of order, or twice, end in the same rows as one ordered delivery.
 * @returns whether the event's state was written (false: the mirror already held newer state).
 */
export async function applyEventToMirror(db: Db, workspaceId: string, type: SubscribedEventType, payload: unknown): Promise<boolean> {
  const event = payload as { created: number; data: { object: unknown } };
  const stateAt = new Date(event.created * 1000);
  const object = event.data.object;
  switch (type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return (await upsertSubscriptions(db, workspaceId, [object as Stripe.Subscription], stateAt)).length > 0;
    case 'invoice.payment_failed':
    case 'invoice.payment_succeeded':
      return (await upsertInvoices(db, workspaceId, [object as Stripe.Invoice], stateAt)).length > 0;
    case 'charge.refunded': {
      const charge = object as Stripe.Charge;
      const written = await upsertCharges(db, workspaceId, [charge], stateAt);
      // Refunds arrive inside the charge (Stripe lists them under `refunds`).
      const refunds = charge.refunds?.data ?? [];
      if (refunds.length) await upsertRefunds(db, workspaceId, refunds, stateAt);
      return written.length > 0;
    }
  }
}
