import type Stripe from 'stripe';
import { EMBEDDED_LIST_ITEMS } from '../../sim/embedded-lists';
import type { SimAccount } from '../../sim/account';

/**
 * Gives one invoice and one subscription of a simulated account more entries than
 * Stripe embeds (`EMBEDDED_LIST_ITEMS`), so their embedded lists come back cut and the
 * rest has to be paged from the list's own url. The extra lines are for 0 and the
 * extra items have quantity 0, so no amount, total or MRR changes.
 */
export function giveLongLists(account: SimAccount, extra = 3): { invoice: Stripe.Invoice; subscription: Stripe.Subscription } {
  const invoice = account.invoices.rows.find((i) => i.lines.data.length > 0);
  const subscription = account.subscriptions.rows.find((s) => s.items.data.length > 0);
  if (!invoice || !subscription) throw new Error('the simulated account has no invoice with lines or subscription with items');
  const line = invoice.lines.data[0]!;
  for (let k = invoice.lines.data.length; k < EMBEDDED_LIST_ITEMS + extra; k++) {
    invoice.lines.data.push({ ...line, id: `il_long_${k}`, amount: 0, quantity: 0, discount_amounts: [], description: `Unused seat ${k}` });
  }
  const item = subscription.items.data[0]!;
  for (let k = subscription.items.data.length; k < EMBEDDED_LIST_ITEMS + extra; k++) {
    const added: Stripe.SubscriptionItem = { ...item, id: `si_long_${k}`, quantity: 0 };
    subscription.items.data.push(added);
    account.subscriptionItems.set(added.id, added);
  }
  return { invoice, subscription };
}
