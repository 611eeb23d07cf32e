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
 *   dunning starts only from a failed payment the inbox has seen.
 * - `while_invoice_open`: a subscription's end stops the dunning of the subscription's
 *   invoices, and only an open invoice can be in dunning: it matters while the mirror
 *   holds an open invoice of the subscription (or of the customer's, naming none).
 *   Paid, void and uncollectible never turn open again, and a dunning re-reads its
 *   invoice from Stripe before each email and ends once it is not open, so one whose
 *   invoice the mirror holds closed ends on its own.
 * - `never`: no play acts on it yet (a new play that does adds its types here).
 */
export type PlayInterest = 'always' | 'after_failed_payment' | 'while_invoice_open' | 'never';

export function playInterest(type: string): PlayInterest {
  if (!isSubscribedEventType(type)) return 'never';
  switch (type) {
    case 'invoice.payment_failed':
      return 'always';
    case 'invoice.payment_succeeded':
      return 'after_failed_payment';
    case 'customer.subscription.deleted':
      return 'while_invoice_open';
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'charge.refunded':
      return 'never';
  }
}
