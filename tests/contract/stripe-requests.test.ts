import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import type { StripeClients } from '../../activities/stripe-client';
import { PROBE_INVOICE_ID, validateConnection } from '../../activities/stripe-connect';
import { PAGE_SIZE } from '../../activities/sync';
import { chargeRow, customerRow, invoiceLineRow, invoiceRow, paymentIntentRow, priceRow, productRow, refundRow, subscriptionItemRow, subscriptionRow } from '../../db/mirror';
import { startStripeMock } from '../setup/stripe-mock';

/**
 * Every kind of Stripe request the connect and sync code makes, sent to stripe-mock
 * (Stripe's OpenAPI-driven mock), which rejects requests its spec does not allow:
 * unknown parameters, bad values, unknown expansions. Any rejection fails the test.
 *
 * stripe-mock v0.197.0 embeds an older OpenAPI spec than the API version stripe-node
 * 23 sends (2026-10-28); where they disagree it is noted below. So far they agree on
 * every request we make; the responses differ (see the last test).
 */
let mock: Awaited<ReturnType<typeof startStripeMock>>;
let stripe: Stripe;
let clients: StripeClients;

beforeAll(async () => {
  mock = await startStripeMock();
  ({ stripe, clients } = mock);
}, 30_000);

afterAll(() => {
  mock?.stop();
});

const created = { gte: 1_700_000_000 };
const page = { limit: PAGE_SIZE, starting_after: 'obj_cursor123' };

describe('requests stripe-mock accepts', () => {
  it('connection checks: one customer, each read permission, the out-of-band pay probe', async () => {
    const check = await validateConnection(stripe);
    // stripe-mock is stateless: the probe "finds" an invoice, so write access shows as verified.
    expect(check.verified).toContain('invoices write');
    expect(check.sampleCustomerId).toMatch(/^cus_/);
    await expect(stripe.invoices.pay(PROBE_INVOICE_ID, { paid_out_of_band: true })).resolves.toMatchObject({ object: 'invoice' });
  });

  it('sync lists with cursors, the history window and expansions', async () => {
    const calls: [string, () => Promise<Stripe.ApiList<{ id: string }>>][] = [
      ['products', () => stripe.products.list(page)],
      ['prices', () => stripe.prices.list(page)],
      ['customers', () => stripe.customers.list({ ...page, created, expand: ['data.discount.source.coupon'] })],
      ['subscriptions', () => stripe.subscriptions.list({ ...page, created, status: 'all', expand: ['data.discounts.source.coupon', 'data.items.data.discounts'] })],
      ['subscription items', () => stripe.subscriptionItems.list({ subscription: 'sub_contract', limit: PAGE_SIZE, starting_after: 'si_cursor', expand: ['data.discounts'] })],
      ['invoices', () => stripe.invoices.list({ ...page, created })],
      ['invoice lines', () => stripe.invoices.listLineItems('in_contract', { limit: PAGE_SIZE, starting_after: 'il_cursor' })],
      ['charges', () => stripe.charges.list({ ...page, created })],
      ['refunds', () => stripe.refunds.list({ ...page, created })],
      ['payment intents', () => stripe.paymentIntents.list({ ...page, created })],
    ];
    for (const [name, call] of calls) {
      const list = await call().catch((err: Error) => {
        throw new Error(`stripe-mock rejected the ${name} request: ${err.message}`);
      });
      expect(list.object, name).toBe('list');
    }
    const tiered = await stripe.prices.retrieve('price_contract', { expand: ['tiers'] });
    expect(tiered.object).toBe('price');
    // A discount's coupon with its restriction: on its own, and through a subscription's re-read.
    expect((await stripe.coupons.retrieve('co_contract', { expand: ['applies_to'] })).object).toBe('coupon');
    expect((await stripe.subscriptions.retrieve('sub_contract', { expand: ['discounts.source.coupon.applies_to', 'items.data.discounts'] })).object).toBe('subscription');
  });

  it('does reject what the spec does not allow (so acceptance above means something)', async () => {
    const bogus = { limit: 1, not_a_parameter: 'x' } as Stripe.InvoiceListParams;
    await expect(stripe.invoices.list(bogus)).rejects.toThrow(/validation error/i);
  });

  it('every request stayed under the limiter and none was refused', () => {
    const stats = clients.statsOf('ws_contract');
    expect(stats.requests).toBeGreaterThan(15);
    expect(stats.rateLimited).toBe(0);
    expect(stats.serverErrors).toBe(0);
    expect(stats.retries).toBe(0);
  });
});

describe("stripe-mock's objects map to mirror rows", () => {
  it('maps each resource without losing required fields', async () => {
    const sub = (await stripe.subscriptions.list({ limit: 1, status: 'all' })).data[0]!;
    const inv = (await stripe.invoices.list({ limit: 1 })).data[0]!;
    expect(productRow((await stripe.products.list({ limit: 1 })).data[0]!)).toMatchObject({ name: expect.any(String) as string });
    expect(priceRow((await stripe.prices.list({ limit: 1 })).data[0]!)).toMatchObject({ currency: expect.any(String) as string });
    expect(customerRow((await stripe.customers.list({ limit: 1 })).data[0]!).id).toMatch(/^cus_/);
    expect(subscriptionRow(sub)).toMatchObject({ customer_id: expect.stringMatching(/^cus_/) as string, status: expect.any(String) as string });
    for (const item of sub.items.data) expect(subscriptionItemRow(sub.id, item, false).price_id).toMatch(/^price_/);
    expect(invoiceRow(inv)).toMatchObject({ customer_id: expect.stringMatching(/^cus_/) as string });
    for (const line of inv.lines.data) expect(invoiceLineRow(inv.id, line).amount).toEqual(expect.any(Number));
    expect(chargeRow((await stripe.charges.list({ limit: 1 })).data[0]!).amount).toEqual(expect.any(Number));
    expect(refundRow((await stripe.refunds.list({ limit: 1 })).data[0]!, false).amount).toEqual(expect.any(Number));
    expect(paymentIntentRow((await stripe.paymentIntents.list({ limit: 1 })).data[0]!).status).toEqual(expect.any(String));
    // Where the spec lags the API version: stripe-mock's subscription items carry
    // current_period_* (as the 2025-03-31+ API does) with example values in which
    // start > end, so only the mapping's shape is checked here, not its periods.
  });
});
