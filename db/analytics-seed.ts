import type { Db } from './knex';
import type { CustomerHistory } from '../domain/mrr';

/**
 * Writes customer histories into the Stripe mirror tables, filling the columns the
 * metrics do not read with what Stripe would hold. For tests, the benchmark and demo
 * data; the sync owns these tables in production.
 */
export async function seedMirror(db: Db, workspaceId: string, histories: readonly CustomerHistory[]): Promise<void> {
  const now = new Date();
  const base = { workspace_id: workspaceId, stripe_state_at: now };
  const chunked = async (table: string, rows: Record<string, unknown>[], conflict: boolean) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const q = db(table).insert(rows.slice(i, i + 1000));
      await (conflict ? q.onConflict(['workspace_id', 'id']).merge() : q);
    }
  };
  const prices = new Map(histories.flatMap((h) => h.prices.map((p) => [p.id, p] as const)));
  await chunked('stripe_prices', [...prices.values()].map((p) => ({ ...base, ...p, product_id: `prod_${p.id}` })), true);
  await chunked('stripe_customers', histories.map((h) => ({ ...base, ...h.customer })), true);
  await chunked('stripe_subscriptions', histories.flatMap((h) => h.subscriptions.map((s) => ({ ...base, ...s }))), true);
  await chunked('stripe_subscription_items', histories.flatMap((h) => h.items.map((i) => ({ ...base, ...i }))), true);
  await chunked(
    'stripe_invoices',
    histories.flatMap((h) =>
      h.invoices.map((inv) => {
        const total = h.lines.filter((l) => l.invoice_id === inv.id).reduce((a, l) => a + l.amount, 0);
        const paid = inv.status === 'paid' ? total : 0;
        return { ...base, ...inv, amount_due: total, amount_paid: paid, amount_remaining: total - paid, subtotal: total, total };
      }),
    ),
    true,
  );
  await chunked('stripe_invoice_lines', histories.flatMap((h) => h.lines.map((l) => ({ ...base, ...l, discount_amounts: JSON.stringify(l.discount_amounts) }))), true);
}

/** Removes one customer's invoices, lines, subscriptions and items from the mirror (to re-seed them). */
export async function clearCustomerMirror(db: Db, workspaceId: string, customerId: string): Promise<void> {
  const ws = { workspace_id: workspaceId };
  const invoices = db('stripe_invoices').where({ ...ws, customer_id: customerId }).select('id');
  const subs = db('stripe_subscriptions').where({ ...ws, customer_id: customerId }).select('id');
  await db('stripe_invoice_lines').where(ws).whereIn('invoice_id', invoices).delete();
  await db('stripe_subscription_items').where(ws).whereIn('subscription_id', subs).delete();
  await db('stripe_invoices').where({ ...ws, customer_id: customerId }).delete();
  await db('stripe_subscriptions').where({ ...ws, customer_id: customerId }).delete();
}
