import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_LIST_ITEMS } from '../../sim/embedded-lists';
import { startSimulator, type Simulator } from '../../sim/server';
import { giveLongLists } from '../helpers/sim-long-lists';

/** Stripe's list order: newest first; the store keeps creation order, so it is the reverse. */
function newestFirst<T extends { id: string }>(rows: readonly T[]): string[] {
  return [...rows].reverse().map((r) => r.id);
}

describe('list pagination through stripe-node', () => {
  let sim: Simulator;
  let stripe: Stripe;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 11, customers: 250, months: 18, now: 1_780_000_000, rateLimit: 0 });
    stripe = new Stripe(sim.accounts[0]?.restrictedKey as string, { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('returns every object exactly once, newest first, for each resource', async () => {
    const a = sim.account();
    const lists: Array<[string, () => Promise<Array<{ id: string }>>, string[]]> = [
      ['customers', () => stripe.customers.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.customers.rows)],
      ['products', () => stripe.products.list({ limit: 3 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.products.rows)],
      ['prices', () => stripe.prices.list({ limit: 7 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.prices.rows)],
      ['subscriptions', () => stripe.subscriptions.list({ limit: 100, status: 'all' }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.subscriptions.rows)],
      ['invoices', () => stripe.invoices.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.invoices.rows)],
      ['charges', () => stripe.charges.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.charges.rows)],
      ['refunds', () => stripe.refunds.list({ limit: 10 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.refunds.rows)],
      ['payment_intents', () => stripe.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.paymentIntents.rows)],
      ['events', () => stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }), newestFirst(a.events.rows)],
    ];
    for (const [name, fetchAll, expected] of lists) {
      expect(expected.length, `${name} generated`).toBeGreaterThan(0);
      const ids = (await fetchAll()).map((o) => o.id);
      expect(new Set(ids).size, `${name} unique`).toBe(ids.length);
      expect(ids, name).toEqual(expected);
    }
    // Created timestamps never increase down the list.
    const invoices = await stripe.invoices.list({ limit: 100 });
    for (let i = 1; i < invoices.data.length; i++) expect(invoices.data[i - 1]!.created).toBeGreaterThanOrEqual(invoices.data[i]!.created);
  });

  it('pages carry Stripe list fields; ending_before walks back to the newer objects', async () => {
    const page1 = await stripe.customers.list({ limit: 5 });
    expect(page1.object).toBe('list');
    expect(page1.url).toBe('/v1/customers');
    expect(page1.has_more).toBe(true);
    expect(page1.data).toHaveLength(5);
    const page2 = await stripe.customers.list({ limit: 5, starting_after: page1.data[4]!.id });
    const back = await stripe.customers.list({ limit: 5, ending_before: page2.data[0]!.id });
    expect(back.data.map((c) => c.id)).toEqual(page1.data.map((c) => c.id));
    expect(back.has_more).toBe(false);
    const tail = await stripe.customers.list({ limit: 3, ending_before: page2.data[2]!.id });
    expect(tail.data.map((c) => c.id)).toEqual([page1.data[4]!.id, page2.data[0]!.id, page2.data[1]!.id]);
    expect(tail.has_more).toBe(true);
  });

  it('filters by customer, subscription, status and created', async () => {
    const a = sim.account();
    const sub = a.subscriptions.rows.find((s) => s.status === 'canceled')!;
    const customer = sub.customer as string;

    const byCustomer = await stripe.invoices.list({ customer, limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(byCustomer.length).toBeGreaterThan(0);
    expect(byCustomer.every((i) => i.customer === customer)).toBe(true);
    expect(byCustomer.length).toBe(a.invoices.rows.filter((i) => i.customer === customer).length);

    const bySub = await stripe.invoices.list({ subscription: sub.id, limit: 2 }).autoPagingToArray({ limit: 1000 });
    expect(bySub.map((i) => i.id)).toEqual(newestFirst(a.invoices.rows.filter((i) => i.parent?.subscription_details?.subscription === sub.id)));

    // Default subscription lists leave out canceled ones; status=all includes them.
    const defaults = await stripe.subscriptions.list({ customer, limit: 100 });
    expect(defaults.data.some((s) => s.id === sub.id)).toBe(false);
    const all = await stripe.subscriptions.list({ customer, status: 'all', limit: 100 });
    expect(all.data.some((s) => s.id === sub.id)).toBe(true);
    const canceled = await stripe.subscriptions.list({ status: 'canceled', limit: 100 }).autoPagingToArray({ limit: 10_000 });
    expect(canceled.length).toBe(a.subscriptions.rows.filter((s) => s.status === 'canceled').length);

    const open = await stripe.invoices.list({ status: 'paid', limit: 100 });
    expect(open.data.every((i) => i.status === 'paid')).toBe(true);

    const since = a.now - 60 * 86_400;
    const recent = await stripe.charges.list({ created: { gte: since }, limit: 100 }).autoPagingToArray({ limit: 10_000 });
    expect(recent.length).toBe(a.charges.rows.filter((c) => c.created >= since).length);
    expect(recent.every((c) => c.created >= since)).toBe(true);
  });

  it('lists subscription items and invoice lines with the same cursor rules', async () => {
    const a = sim.account();
    const withMetered = a.subscriptions.rows.find((s) => s.items.data.length > 1)!;
    const items = await stripe.subscriptionItems.list({ subscription: withMetered.id, limit: 1 }).autoPagingToArray({ limit: 100 });
    expect(items.map((i) => i.id)).toEqual(withMetered.items.data.map((i) => i.id));

    const proration = a.invoices.rows.find((i) => i.lines.data.length > 1)!;
    const lines = await stripe.invoices.listLineItems(proration.id, { limit: 1 }).autoPagingToArray({ limit: 100 });
    expect(lines.map((l) => l.id)).toEqual(proration.lines.data.map((l) => l.id));
  });

  it('expands ids into objects and refuses unknown expansions like Stripe', async () => {
    const subs = await stripe.subscriptions.list({ limit: 3, expand: ['data.customer', 'data.latest_invoice'] });
    const first = subs.data[0]!;
    expect(typeof first.customer).toBe('object');
    expect((first.customer as Stripe.Customer).object).toBe('customer');
    expect((first.latest_invoice as Stripe.Invoice).object).toBe('invoice');
    const product = await stripe.products.retrieve(sim.account().products.rows[0]!.id, { expand: ['default_price'] });
    expect((product.default_price as Stripe.Price).object).toBe('price');

    await expect(stripe.customers.list({ expand: ['data.nope'] })).rejects.toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, message: 'This property cannot be expanded (data.nope).' });
    await expect(stripe.subscriptions.list({ expand: ['customer'] })).rejects.toMatchObject({ statusCode: 400, param: 'expand' });
    // The stored objects are not changed by an expansion.
    expect(typeof sim.account().subscriptions.get(first.id)!.customer).toBe('string');
  });

  it('supports the expansions the project uses, includable fields and invoice payments', async () => {
    const a = sim.account();
    const sub = a.subscriptions.rows.find((x) => x.discounts.length > 0)!;
    const full = await stripe.subscriptions.retrieve(sub.id, { expand: ['items.data.price.product'] });
    expect((full.items.data[0]!.price.product as Stripe.Product).object).toBe('product');
    const listed = await stripe.subscriptions.list({ customer: sub.customer as string, status: 'all', expand: ['data.discounts'] });
    const withDiscount = listed.data.find((x) => x.id === sub.id)!;
    expect((withDiscount.discounts[0] as Stripe.Discount).object).toBe('discount');
    const deep = await stripe.subscriptions.retrieve(sub.id, { expand: ['discounts.source.coupon'] });
    expect(((deep.discounts[0] as Stripe.Discount).source.coupon as Stripe.Coupon).object).toBe('coupon');
    await expect(stripe.prices.retrieve(a.prices.rows[0]!.id, { expand: ['tiers'] })).resolves.toMatchObject({ id: a.prices.rows[0]!.id });

    // The invoice's payment intent, which this API version reaches through invoice payments.
    const paid = a.invoices.rows.find((i) => i.status === 'paid' && i.amount_due > 0 && a.invoicePayment.has(i.id))!;
    const pi = a.invoicePayment.get(paid.id)!;
    const inv = await stripe.invoices.retrieve(paid.id, { expand: ['payments'] });
    expect(inv.payments?.data[0]).toMatchObject({ object: 'invoice_payment', invoice: paid.id, status: 'paid', payment: { type: 'payment_intent', payment_intent: pi.id } });
    const payments = await stripe.invoicePayments.list({ invoice: paid.id });
    expect(payments.data.map((p) => p.payment.payment_intent)).toEqual([pi.id]);
    const withPi = await stripe.invoicePayments.list({ invoice: paid.id, expand: ['data.payment.payment_intent'] });
    expect((withPi.data[0]!.payment.payment_intent as Stripe.PaymentIntent).status).toBe('succeeded');
  });

  it('checks a write permission before looking the invoice up, as the connect probe relies on', async () => {
    await expect(stripe.invoices.pay('in_wyseraPermissionProbe', { paid_out_of_band: true })).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
    const readOnly = new Stripe(sim.addRestrictedKey({ invoices: 'read' }), { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(readOnly.invoices.pay('in_wyseraPermissionProbe', { paid_out_of_band: true })).rejects.toBeInstanceOf(Stripe.errors.StripePermissionError);
  });

  it('rejects bad list parameters with Stripe-shaped 400s naming the parameter', async () => {
    await expect(stripe.customers.list({ limit: 101 })).rejects.toMatchObject({ statusCode: 400, param: 'limit' });
    await expect(stripe.customers.list({ starting_after: 'cus_doesnotexist' })).rejects.toMatchObject({ statusCode: 400, param: 'starting_after', code: 'resource_missing' });
    await expect(stripe.subscriptionItems.list({} as Stripe.SubscriptionItemListParams)).rejects.toMatchObject({ statusCode: 400, param: 'subscription', code: 'parameter_missing' });
    await expect(stripe.customers.retrieve('cus_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such customer: 'cus_missing'" });
    const res = await fetch(`${sim.url}/v1/customers?colour=red`, { headers: { Authorization: `Bearer ${sim.accounts[0]!.secretKey}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { type: 'invalid_request_error', code: 'parameter_unknown', param: 'colour', message: 'Received unknown parameter: colour', doc_url: 'https://docs.stripe.com/error-codes/parameter-unknown' },
    });
    expect(res.headers.get('request-id')).toMatch(/^req_/);
  });

  it('pays an invoice out of band and emits invoice.paid, not invoice.payment_succeeded (no payment was attempted)', async () => {
    const a = sim.account();
    const open = a.invoices.rows.find((i) => i.status === 'open')!;
    expect(open).toBeDefined();
    const before = a.events.size;
    const paid = await stripe.invoices.pay(open.id, { paid_out_of_band: true });
    expect(paid.status).toBe('paid');
    expect(paid.amount_remaining).toBe(0);
    const types = a.events.rows.slice(before).map((e) => e.type);
    expect(types).toContain('invoice.paid');
    expect(types).not.toContain('invoice.payment_succeeded');
    expect(paid.amount_paid_off_stripe).toBe(paid.amount_due);
    await expect(stripe.invoices.pay(open.id, { paid_out_of_band: true })).rejects.toMatchObject({ statusCode: 400, code: 'invoice_already_paid' });
    // Events caused by an API request name it.
    const paidEvent = a.events.rows.slice(before).find((e) => e.type === 'invoice.paid')!;
    expect(paidEvent.request?.id).toMatch(/^req_/);
  });

  it('refunds a charge in part or in whole, emits refund.created and charge.refunded, and refuses more than is left', async () => {
    const a = sim.account();
    const charge = a.charges.rows.find((c) => c.status === 'succeeded' && c.amount_refunded === 0 && c.amount >= 100)!;
    expect(charge).toBeDefined();
    const writer = new Stripe(sim.accounts[0]!.secretKey, { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
    const before = a.events.size;
    const part = await writer.refunds.create({ charge: charge.id, amount: 40, reason: 'duplicate' });
    expect(part).toMatchObject({ object: 'refund', charge: charge.id, amount: 40, reason: 'duplicate', status: 'succeeded', currency: charge.currency });
    expect(a.events.rows.slice(before).map((e) => e.type)).toEqual(['refund.created', 'charge.refunded']);
    await expect(writer.refunds.create({ charge: charge.id, amount: charge.amount })).rejects.toMatchObject({ statusCode: 400, param: 'amount' });
    const rest = await writer.refunds.create({ charge: charge.id });
    expect(rest.amount).toBe(charge.amount - 40);
    const after = await stripe.charges.retrieve(charge.id, { expand: ['refunds'] });
    expect([after.refunded, after.amount_refunded]).toEqual([true, charge.amount]);
    expect(after.refunds?.data.map((r) => r.id)).toEqual([rest.id, part.id]);
    await expect(writer.refunds.create({ charge: charge.id })).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
    await expect(writer.refunds.create({ charge: 'ch_none' })).rejects.toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'charge' });
    // By payment intent (its latest charge), with no reason unless one is given, and metadata kept.
    const other = a.charges.rows.find((c) => c.status === 'succeeded' && c.amount_refunded === 0 && c.amount >= 100 && typeof c.payment_intent === 'string' && c.id !== charge.id)!;
    const byIntent = await writer.refunds.create({ payment_intent: other.payment_intent as string, amount: 10, metadata: { ticket: 'T-1' } });
    expect(byIntent).toMatchObject({ charge: other.id, amount: 10, reason: null, metadata: { ticket: 'T-1' } });
    await expect(writer.refunds.create({ charge: other.id, amount: 0 })).rejects.toMatchObject({ statusCode: 400, param: 'amount' });
    await expect(writer.refunds.create({ charge: other.id, reason: 'changed_mind' as 'duplicate' })).rejects.toMatchObject({ statusCode: 400, param: 'reason' });
    await expect(writer.refunds.create({})).rejects.toMatchObject({ statusCode: 400, code: 'parameter_missing' });
    // The project's restricted key may only read refunds.
    await expect(stripe.refunds.create({ charge: charge.id })).rejects.toBeInstanceOf(Stripe.errors.StripePermissionError);
  });

  it('replays a POST with a seen Idempotency-Key instead of running it again', async () => {
    const a = sim.account();
    const open = a.invoices.rows.find((i) => i.status === 'open')!;
    const first = await stripe.invoices.pay(open.id, { paid_out_of_band: true }, { idempotencyKey: 'pay-once-1' });
    const events = a.events.size;
    const again = await stripe.invoices.pay(open.id, { paid_out_of_band: true }, { idempotencyKey: 'pay-once-1' });
    expect(again.id).toBe(first.id);
    expect(again.status).toBe('paid');
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(a.events.size).toBe(events);
    const paidEvent = a.events.rows.filter((e) => e.type === 'invoice.paid').at(-1)!;
    expect(paidEvent.request?.idempotency_key).toBe('pay-once-1');
    // A new key runs the request again.
    await expect(stripe.invoices.pay(open.id, { paid_out_of_band: true }, { idempotencyKey: 'pay-once-2' })).rejects.toMatchObject({ code: 'invoice_already_paid' });
  });

  it('charging an invoice through pay either pays it or answers 402 card_error', async () => {
    const a = sim.account();
    const open = a.invoices.rows.filter((i) => i.status === 'open');
    expect(open.length).toBeGreaterThan(0);
    for (const inv of open) {
      const outcome = await stripe.invoices.pay(inv.id).then(
        (paid) => paid.status,
        (err: unknown) => err,
      );
      if (outcome === 'paid') continue;
      expect(outcome).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(outcome).toMatchObject({ statusCode: 402, code: 'card_declined' });
      expect(a.invoices.get(inv.id)?.status).toBe('open');
    }
  });

  it('logs each request with its query and status, so duplicate page fetches can be counted', async () => {
    sim.resetStats();
    await stripe.customers.list({ limit: 2 });
    await stripe.customers.list({ limit: 2 });
    await stripe.customers.retrieve('cus_missing').catch(() => undefined);
    const log = sim.requests();
    expect(log.map((r) => `${r.method} ${r.path}${r.query} ${r.status}`)).toEqual([
      'GET /v1/customers?limit=2 200',
      'GET /v1/customers?limit=2 200',
      'GET /v1/customers/cus_missing 404',
    ]);
    expect(log.every((r) => r.account === sim.accounts[0]!.id)).toBe(true);
    expect(sim.stats().pagesServed).toBe(2);
  });

  it('serves hosted invoice pages where a customer in dunning can pay', async () => {
    const a = sim.account();
    const dunning = a.invoices.rows.find((i) => i.status === 'open' && i.next_payment_attempt !== null)!;
    expect(dunning).toBeDefined();
    const url = (await stripe.invoices.retrieve(dunning.id)).hosted_invoice_url!;
    expect(url.startsWith(`${sim.url}/_sim/hosted/invoices/${a.id}/`)).toBe(true);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(dunning.number!);
    expect(html).toContain((dunning.amount_remaining / 100).toFixed(2));
    const before = a.events.size;
    const paid = await fetch(`${url}/pay`, { method: 'POST', redirect: 'manual' });
    expect(paid.status).toBe(303);
    expect(a.invoices.get(dunning.id)!.status).toBe('paid');
    expect(a.events.rows.slice(before).map((e) => e.type)).toEqual(expect.arrayContaining(['charge.succeeded', 'invoice.paid', 'invoice.payment_succeeded']));
    expect(await (await fetch(url)).text()).toContain('Nothing to pay.');
    expect((await fetch(`${sim.url}/_sim/hosted/invoices/${a.id}/test_nope`)).status).toBe(404);
  });

  it('embeds only the first entries of a long list inside an object, as Stripe does; the rest pages from its url', async () => {
    const { invoice, subscription } = giveLongLists(sim.account());
    const all = EMBEDDED_LIST_ITEMS + 3;
    const got = await stripe.invoices.retrieve(invoice.id);
    expect(got.lines.data.map((l) => l.id)).toEqual(invoice.lines.data.slice(0, EMBEDDED_LIST_ITEMS).map((l) => l.id));
    expect(got.lines.has_more).toBe(true);
    expect((await stripe.invoices.listLineItems(invoice.id, { limit: 100 }).autoPagingToArray({ limit: 1000 })).map((l) => l.id)).toEqual(invoice.lines.data.map((l) => l.id));
    expect(invoice.lines.data).toHaveLength(all);
    const sub = await stripe.subscriptions.retrieve(subscription.id);
    expect(sub.items.data).toHaveLength(EMBEDDED_LIST_ITEMS);
    expect(sub.items.has_more).toBe(true);
    expect(await stripe.subscriptionItems.list({ subscription: subscription.id, limit: 100 }).autoPagingToArray({ limit: 1000 })).toHaveLength(all);
    // In a list page too, each object's embedded list is cut (the page itself is cut by
    // its limit only: the first test reads pages of 100).
    const page = await stripe.invoices.list({ customer: invoice.customer as string, limit: 100 });
    expect(page.data.find((i) => i.id === invoice.id)?.lines).toMatchObject({ has_more: true, data: expect.any(Array) as unknown });
    expect(page.data.find((i) => i.id === invoice.id)?.lines.data).toHaveLength(EMBEDDED_LIST_ITEMS);
    // A short list stays whole.
    const short = sim.account().invoices.rows.find((i) => i.id !== invoice.id && i.lines.data.length > 0)!;
    expect((await stripe.invoices.retrieve(short.id)).lines).toMatchObject({ has_more: false, data: short.lines.data.map((l) => expect.objectContaining({ id: l.id }) as unknown) });
    // An event's payload is cut the same way, for webhooks and the events API alike.
    sim.account().emit('customer.subscription.updated', subscription);
    const event = sim.account().events.rows.at(-1)!;
    expect((event.data.object as Stripe.Subscription).items).toMatchObject({ has_more: true, data: expect.any(Array) as unknown });
    const fetched = await stripe.events.retrieve(event.id);
    expect((fetched.data.object as Stripe.Subscription).items.data).toHaveLength(EMBEDDED_LIST_ITEMS);
    expect(subscription.items.data).toHaveLength(all);
  });

  it('creates billing portal sessions with a URL', async () => {
    const customer = sim.account().customers.rows[0]!;
    const session = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'https://example.com/back' });
    expect(session.object).toBe('billing_portal.session');
    expect(session.customer).toBe(customer.id);
    expect(session.url.startsWith(sim.url)).toBe(true);
    const page = await fetch(session.url);
    expect(page.status).toBe(200);
    await expect(stripe.billingPortal.sessions.create({ customer: 'cus_nobody' })).rejects.toMatchObject({ statusCode: 400, param: 'customer' });
  });
});
