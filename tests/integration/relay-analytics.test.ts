import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { recomputeWorkspace } from '../../activities/analytics';
import { loadAggregates, loadCustomerMovements } from '../../db/analytics';
import { inboxCounts } from '../../db/inbox';
import { upsertPrices } from '../../db/mirror';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startIngressStack, type IngressStack } from '../helpers/stack';
import { stripeEvent, stripeFixture } from '../helpers/stripe';
import { eventually } from '../helpers/temporal';

const DAY = 86_400;

/** A paid monthly subscription invoice of `amount` cents for `customer`, as Stripe sends it. */
function paidInvoice(id: string, customer: string, subscription: string, amount: number, periodStart: number): Record<string, unknown> {
  const invoice = stripeFixture('invoice');
  const line = (invoice.lines as { data: Record<string, unknown>[] }).data[0]!;
  const periodEnd = periodStart + 30 * DAY;
  return {
    ...invoice,
    id,
    customer,
    status: 'paid',
    billing_reason: 'subscription_cycle',
    amount_due: amount,
    amount_paid: amount,
    amount_remaining: 0,
    subtotal: amount,
    total: amount,
    total_taxes: [],
    created: periodStart,
    period_start: periodStart,
    period_end: periodStart,
    status_transitions: { finalized_at: periodStart, paid_at: periodStart, marked_uncollectible_at: null, voided_at: null },
    parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription, metadata: {} } },
    lines: {
      object: 'list',
      has_more: false,
      url: `/v1/invoices/${id}/lines`,
      data: [
        {
          ...line,
          id: `il_${id}`,
          invoice: id,
          amount,
          subtotal: amount,
          quantity: 1,
          period: { start: periodStart, end: periodEnd },
          discount_amounts: [],
          parent: {
            type: 'subscription_item_details',
            invoice_item_details: null,
            subscription_item_details: { subscription, subscription_item: `si_${subscription}`, proration: false, proration_details: null, invoice_item: null },
          },
          pricing: { type: 'price_details', unit_amount_decimal: String(amount), price_details: { price: 'price_monthly', product: 'prod_x' } },
        },
      ],
    },
  };
}

/**
 * The same invoice as an endpoint on an API version before 2019-12-03 sends it: the
 * subscription on the invoice, and each line's origin, price and proration on the
 * line itself instead of under `parent` and `pricing` (so until 2025-03-31); and
 * the line's `id` that of its subscription item or invoice item, the same on every
 * invoice, with the unique one in `unique_id`.
 */
function inOlderVersion(invoice: Record<string, unknown>): Record<string, unknown> {
  const { parent, ...rest } = invoice;
  const lines = invoice.lines as { data: Record<string, unknown>[] };
  return {
    ...rest,
    subscription: (parent as { subscription_details: { subscription: string } }).subscription_details.subscription,
    lines: {
      ...lines,
      data: lines.data.map(({ parent: lineParent, pricing, ...line }) => {
        const origin = lineParent as NonNullable<Stripe.InvoiceLineItem['parent']>;
        const details = origin.subscription_item_details ?? origin.invoice_item_details!;
        const price = (pricing as Stripe.InvoiceLineItem.Pricing).price_details!;
        const item = origin.subscription_item_details ? `sli_${origin.subscription_item_details.subscription_item}` : origin.invoice_item_details!.invoice_item;
        return {
          ...line,
          id: item,
          unique_id: line.id,
          type: origin.type === 'invoice_item_details' ? 'invoiceitem' : 'subscription',
          subscription: details.subscription,
          subscription_item: origin.subscription_item_details?.subscription_item ?? null,
          invoice_item: origin.invoice_item_details?.invoice_item ?? null,
          proration: details.proration,
          price: { ...stripeFixture('price'), id: price.price, product: price.product },
        };
      }),
    },
  };
}

/**
 * Every webhook refreshes the customer's analytics: after a stream of paid
 * invoices arrives through the relay, the stored movements and aggregates are those
 * of a full recompute of the mirror.
 */
describe('relay keeps analytics current', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secret = 'whsec_analytics';
  const ws = 'ws_relay_mrr';
  let stack: IngressStack;

  beforeAll(async () => {
    stack = await startIngressStack(keyring, async (db) => {
      await insertWorkspace(db, keyring, { id: ws, name: 'MRR', webhookSecret: secret });
      const price = { ...stripeFixture('price'), id: 'price_monthly', product: 'prod_x', currency: 'usd', unit_amount: 5000, type: 'recurring', recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed', meter: null, trial_period_days: null } };
      await upsertPrices(db, ws, [price as unknown as Stripe.Price], new Date());
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('matches a full recompute after each customer’s paid invoices arrive', async () => {
    const start = Math.floor(Date.UTC(2026, 0, 1) / 1000);
    // cus_old's endpoint is on an older API version; its history is cus_a's.
    const history = [5000, 5000, 7500];
    const plan: [string, number[]][] = [
      ['cus_a', history],
      ['cus_b', [5000]],
      ['cus_old', history],
    ];
    const older = (customer: string) => customer === 'cus_old';
    let sent = 0;
    const post = async (event: Record<string, unknown>) => {
      expect((await stack.postEvent(ws, secret, event)).status).toBe(200);
      sent++;
    };
    for (const [customer, amounts] of plan) {
      const sub = stripeFixture('subscription');
      const items = sub.items as { data: Record<string, unknown>[] };
      const period = { current_period_start: start + (amounts.length - 1) * 30 * DAY, current_period_end: start + amounts.length * 30 * DAY };
      // Older versions keep the billing period on the subscription, newer ones on its items.
      const { current_period_start: _s, current_period_end: _e, ...item } = items.data[0]!;
      await post(
        stripeEvent(
          'customer.subscription.created',
          {
            ...sub,
            ...(older(customer) ? period : {}),
            id: `sub_${customer}`, customer, status: 'active', start_date: start, created: start, trial_start: null, trial_end: null, ended_at: null, canceled_at: null, cancel_at: null, cancel_at_period_end: false,
            items: { ...items, has_more: false, data: [{ ...item, ...(older(customer) ? {} : period), id: `si_sub_${customer}`, subscription: `sub_${customer}`, price: { ...stripeFixture('price'), id: 'price_monthly' } }] },
          },
          { created: start },
        ),
      );
      for (const [month, amount] of amounts.entries()) {
        const invoice = paidInvoice(`in_${customer}_${month}`, customer, `sub_${customer}`, amount, start + month * 30 * DAY);
        await post(stripeEvent('invoice.payment_succeeded', older(customer) ? inOlderVersion(invoice) : invoice, { created: start + month * 30 * DAY + 60 }));
      }
    }
    await eventually(() => inboxCounts(stack.database.db, ws), (c) => c.processed === sent);

    const movementsA = await loadCustomerMovements(stack.database.db, ws, 'cus_a');
    expect(movementsA.map((m) => m.kind)).toEqual(expect.arrayContaining(['new', 'expansion']));
    expect(movementsA.at(-1)?.mrrAfter).toBe(7500);
    expect((await loadCustomerMovements(stack.database.db, ws, 'cus_b'))[0]?.kind).toBe('new');
    // The older shapes give the same movements as the current ones.
    const shape = (ms: typeof movementsA) => ms.map(({ kind, at, amount, mrrBefore, mrrAfter }) => ({ kind, at, amount, mrrBefore, mrrAfter }));
    expect(shape(await loadCustomerMovements(stack.database.db, ws, 'cus_old'))).toEqual(shape(movementsA));
    const periodOf = (id: string) =>
      stack.database.db('stripe_subscriptions').where({ workspace_id: ws, id }).first<{ current_period_start: Date | null; current_period_end: Date | null }>('current_period_start', 'current_period_end');
    expect(await periodOf('sub_cus_old')).toEqual(await periodOf('sub_cus_a'));
    expect((await periodOf('sub_cus_a'))?.current_period_end).toBeInstanceOf(Date);

    const incremental = await loadAggregates(stack.database.db, ws);
    await recomputeWorkspace(stack.database.db, ws);
    expect(await loadAggregates(stack.database.db, ws)).toEqual(incremental);
  });
});
