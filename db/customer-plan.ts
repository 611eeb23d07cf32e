import type { Db } from './knex';
import { groupBy } from '../domain/group-by';
import { monthlyValue, type RecurringItem } from '../domain/plan-value';
import { isInterval } from '../domain/period-months';
import { periodAmount } from '../domain/price-amount';
import { PRICE_TERM_COLUMNS, priceTerms, type PriceTermRow } from './price-terms';
import type { Money } from '../domain/dunning-templates';

/** A customer's main plan as the mirror has it: the product of their most valuable live subscription's biggest item (mostValuable). */
export interface CustomerPlan {
  subscriptionId: string;
  productId: string;
  /** Null when the mirror holds no such product (not synced yet, or deleted): no name to give a customer. */
  productName: string | null;
  /** The subscription's list price a month (domain/plan-value.ts). */
  monthlyValue: Money;
  /** The plan's own item: how it is billed, for how many, and its list price per period for that many (domain/price-amount.ts). */
  item: { interval: RecurringItem['interval']; intervalCount: number; quantity: number; price: Money };
}

/**
 * The customer's plan, from the mirror (kept current by the webhooks): of their live
 * subscriptions, the one worth most a month, and of its items the one worth most.
 * Null without a live subscription with a fixed recurring price, or while one has a
 * fixed item of an amount the mirror cannot tell (mostValuable).
 */
export async function customerPlan(db: Db, workspaceId: string, customerId: string): Promise<CustomerPlan | null> {
  return (await customerPlans(db, workspaceId, [customerId])).get(customerId) ?? null;
}

interface PlanItemRow extends PriceTermRow {
  subscription_id: string;
  product_id: string;
  product_name: string | null;
  quantity: number | null;
  currency: string;
  recurring_interval: string | null;
  recurring_interval_count: number | null;
}

/** The plan of one live subscription of the customer (its item worth most), as customerPlan answers it; null when it is not live. */
export async function subscriptionPlan(db: Db, workspaceId: string, customerId: string, subscriptionId: string): Promise<CustomerPlan | null> {
  return (await customerPlans(db, workspaceId, [customerId], subscriptionId)).get(customerId) ?? null;
}

/** The plan (as customerPlan) of each of the workspace's customers who has one, or of those in `only` (of that subscription alone when given). */
export async function customerPlans(db: Db, workspaceId: string, only?: readonly string[], subscriptionId?: string): Promise<Map<string, CustomerPlan>> {
  const q = db('stripe_subscription_items as i')
    .join('stripe_subscriptions as s', function () {
      this.on('s.workspace_id', 'i.workspace_id').andOn('s.id', 'i.subscription_id');
    })
    .join('stripe_prices as p', function () {
      this.on('p.workspace_id', 'i.workspace_id').andOn('p.id', 'i.price_id');
    })
    .leftJoin('stripe_products as pr', function () {
      this.on('pr.workspace_id', 'p.workspace_id').andOn('pr.id', 'p.product_id');
    })
    .where({ 'i.workspace_id': workspaceId })
    .whereNull('s.ended_at')
    .whereIn('s.status', ['active', 'trialing', 'past_due', 'unpaid'])
    .orderBy(['s.customer_id', 'i.subscription_id', 'i.id'])
    .select<(PlanItemRow & { customer_id: string })[]>(
      's.customer_id',
      'i.subscription_id',
      'p.product_id',
      'pr.name as product_name',
      ...PRICE_TERM_COLUMNS,
      'i.quantity',
      'p.currency',
      'p.recurring_interval',
      'p.recurring_interval_count',
    );
  if (only) void q.whereRaw('s.customer_id = any(?)', [[...only]]);
  if (subscriptionId) void q.where('s.id', subscriptionId);
  const plans = new Map<string, CustomerPlan>();
  for (const [customerId, rows] of groupBy(await q, (r) => r.customer_id)) {
    const plan = mostValuable(rows);
    if (plan) plans.set(customerId, plan);
  }
  return plans;
}

/**
 * Of one customer's live subscription items, the plan of the subscription worth most a
 * month. None while any of them has a fixed (licensed) item whose amount the mirror
 * cannot tell (tiers not synced yet, which Stripe sends only when asked; a price in fractions
 * of a cent): that subscription's worth is unknown, and so is which subscription, and
 * which of its items, is the customer's plan. The known items alone would quote a
 * misleading amount whatever they cost: beside unpriced seats, a free add-on would be
 * the plan ("you pay $0.00 now") and a $10 one would be what they pay, and a save's
 * credits would be a share of part of their bill. A free plan (every fixed item known
 * to cost nothing), alone or beside items billed on use (never part of a plan's
 * worth), is a plan: free customers are who the expansion play pitches to.
 */
function mostValuable(rows: PlanItemRow[]): CustomerPlan | null {
  let best: CustomerPlan | null = null;
  for (const [subscriptionId, items] of groupBy(rows, (r) => r.subscription_id)) {
    const valued = items.flatMap((r) => {
      if (!isInterval(r.recurring_interval)) return [];
      const quantity = r.quantity ?? 1;
      const item: RecurringItem = { amount: periodAmount(priceTerms(r), quantity), currency: r.currency.trim(), interval: r.recurring_interval, intervalCount: r.recurring_interval_count ?? 1 };
      return [{ row: r, item, quantity, value: monthlyValue([item])?.amount ?? 0 }];
    });
    if (valued.some((v) => v.item.amount === null && v.row.recurring_usage_type !== 'metered')) return null;
    const total = monthlyValue(valued.map((v) => v.item));
    // The plan is an item with a fixed amount (what the plays quote); one billed on use is not.
    const main = valued.filter((v): v is typeof v & { item: { amount: number } } => v.item.amount !== null).sort((a, b) => b.value - a.value)[0];
    if (!total || !main || (best && best.monthlyValue.amount >= total.amount)) continue;
    const item = { interval: main.item.interval, intervalCount: main.item.intervalCount, quantity: main.quantity, price: { amount: main.item.amount, currency: main.item.currency } };
    best = { subscriptionId, productId: main.row.product_id, productName: main.row.product_name, monthlyValue: total, item };
  }
  return best;
}
