import { isSubscribedEventType } from './event-types';

/**
 * Which Stripe events the customer's plays act on, and so which ones the relay
 * signals the customer's workflow with. The mirror and the analytics take every
 * subscribed event; a workflow is woken only when a play has something to do:
 * each signal is a Temporal action (billed per action on Temporal Cloud) and a
 * history event the workflow carries until it continues as new, and most of an
 * account's events (renewals, plan edits, first-try payments) concern no play.
 *
 * - `always`: a failed payment starts its invoice's dunning.
 * - `after_failed_payment`: a payment matters only to an invoice in dunning, and
 *   dunning starts only from a failed payment the inbox has seen (or, once the inbox
 *   has forgotten it, whose dunning is still running).
 * - `while_invoice_unpaid`: a subscription's end stops the dunning of the
 *   subscription's invoices: it matters while the mirror holds an invoice of the
 *   subscription that is not paid (or one of the customer's naming no subscription).
 *   A paid invoice never turns unpaid again, and its dunning heard of the payment (a
 *   payment after a failure is signalled). Void and uncollectible count as unpaid: the
 *   mirror may learn of them only from a sync, and the signal ends such a dunning at
 *   once instead of at its next check (domain/dunning-ends.ts), which in review mode
 *   may be hours away.
 * - `never`: no play acts on it yet (a new play that does adds its types here).
 */
export type PlayInterest = 'always' | 'after_failed_payment' | 'while_invoice_unpaid' | 'never';

export function playInterest(type: string): PlayInterest {
  if (!isSubscribedEventType(type)) return 'never';
  switch (type) {
    case 'invoice.payment_failed':
      return 'always';
    case 'invoice.payment_succeeded':
      return 'after_failed_payment';
    case 'customer.subscription.deleted':
      return 'while_invoice_unpaid';
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'charge.refunded':
      return 'never';
  }
}
