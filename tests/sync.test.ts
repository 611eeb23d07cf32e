import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncProgressView } from '../workflows/sync-messages';
import { syncProgressQuery } from '../workflows/sync-messages';
import { findCustomerContact } from '../db/customer-pii';
import { giveLongLists } from './helpers/sim-long-lists';
import { eventually } from './helpers/temporal';
import { syncHarness, type SyncHarness } from './sync-harness';

let h: SyncHarness;
let workspaceId: string;
let owner: string;
let longLists: ReturnType<typeof giveLongLists>;
let restricted: ReturnType<typeof giveRestrictedDiscounts>;

const productOf = (price: Stripe.Price) => (typeof price.product === 'string' ? price.product : price.product.id);

/**
 * Discounts the generated history has none of, as the Dashboard would add them: a
 * coupon restricted to one subscription's plan, on that subscription; a discount of its
 * plan item's own; and one on the long subscription's last item, past the ten Stripe
 * embeds (the sync pages it from the items' own list).
 */
function giveRestrictedDiscounts() {
  const account = h.sim.account();
  const subscription = account.subscriptions.rows.find((s) => s.status === 'active' && s.discounts.length === 0 && s.id !== longLists.subscription.id)!;
  const plan = subscription.items.data[0]!;
  const coupon = account.createCoupon({ id: 'PLANONLY30', name: '30% off one plan', duration: 'forever', percentOff: 30, appliesTo: [productOf(plan.price)] });
  const onSubscription = account.addDiscount(subscription.id, coupon.id);
  const onItem = account.addDiscount(subscription.id, 'PARTNER10', { item: plan.id });
  const farItem = longLists.subscription.items.data[longLists.subscription.items.data.length - 1]!;
  const onFarItem = account.addDiscount(longLists.subscription.id, coupon.id, { item: farItem.id });
  return { subscription, plan, coupon, onSubscription, onItem, farItem, onFarItem };
}

const MIRROR = ['stripe_products', 'stripe_prices', 'stripe_customers', 'stripe_subscriptions', 'stripe_subscription_items', 'stripe_invoices', 'stripe_invoice_lines', 'stripe_charges', 'stripe_refunds', 'stripe_payment_intents'];

/** Everything the mirror holds except the bookkeeping times a re-sync moves on. */
async function mirrorContent(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of MIRROR) {
    const rows = await h.db<Record<string, unknown>>(t).where({ workspace_id: workspaceId }).orderBy('id');
    // When a state is from (and a read's window) is not content: a repeated read dates it anew.
    out[t] = rows.map(({ stripe_state_at: _s, stripe_read_until: _u, synced_at: _y, ...rest }) => rest);
    if (t === 'stripe_customers') {
      // Email and name are sealed with a fresh nonce on every write: compare what they open to.
      out[t] = await Promise.all(
        rows.map(async ({ stripe_state_at: _s, stripe_read_until: _u, synced_at: _y, email: _e, name: _n, ...rest }) => ({ ...rest, contact: await findCustomerContact(h.db, h.keyring, workspaceId, String(rest.id)) })),
      );
    }
  }
  return out;
}

type SyncBody = { run: { runId: string; status: string; workflowId: string; error: string | null; requestedBy: string; requestedByName: string | null }; resources: { resource: string; objects: number; pages: number; done: boolean; fraction: number | null }[]; etaSeconds: number | null };

async function waitForSync(runId: string): Promise<SyncBody> {
  return eventually(
    async () => (await h.call('GET', `/workspaces/${workspaceId}/sync`, undefined, owner)).body as SyncBody,
    (b) => b.run?.runId === runId && b.run.status !== 'running',
    90_000,
  );
}

beforeAll(async () => {
  // A limit the sync must stay under: the simulator answers 429 above it.
  h = await syncHarness({ seed: 'sync-test', customers: 60, months: 24, rateLimit: 40 });
  // Lists longer than Stripe embeds: the sync must page the rest from their own urls.
  longLists = giveLongLists(h.sim.account());
  restricted = giveRestrictedDiscounts();
  await h.startWorker();
  ({ id: workspaceId, owner } = await h.createWorkspace({
    name: 'Sync test',
    stripeKey: h.sim.accounts[0]!.restrictedKey,
    webhookSecret: 'whsec_syncTest1',
    settings: { stripeRateLimitRps: 30 },
  }));
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe('the first sync', () => {
  let body: SyncBody;

  it('copies every resource of the account, under the rate limit', async () => {
    const first = (await h.call('GET', `/workspaces/${workspaceId}/sync`, undefined, owner)).body as SyncBody;
    body = await waitForSync(first.run.runId);
    expect({ status: body.run.status, error: body.run.error }).toEqual({ status: 'completed', error: null });
    // Started with the workspace, by the operator, and named so.
    expect({ by: body.run.requestedBy, name: body.run.requestedByName }).toEqual({ by: 'operator', name: 'the operator (server token)' });
    const account = h.sim.account();
    const count = async (t: string) => Number((await h.db(t).where({ workspace_id: workspaceId }).count<{ c: string }[]>('* as c'))[0]!.c);
    expect(await count('stripe_customers')).toBe(account.customers.size);
    expect(await count('stripe_subscriptions')).toBe(account.subscriptions.size);
    expect(await count('stripe_products')).toBe(account.products.size);
    expect(await count('stripe_prices')).toBe(account.prices.size);
    // The account's history fits the 24-month window, so nothing is left out.
    expect(await count('stripe_invoices')).toBe(account.invoices.size);
    expect(await count('stripe_charges')).toBe(account.charges.size);
    expect(await count('stripe_refunds')).toBe(account.refunds.size);
    expect(await count('stripe_payment_intents')).toBe(account.paymentIntents.size);
    const items = account.subscriptions.rows.reduce((n, s) => n + s.items.data.length, 0);
    expect(await count('stripe_subscription_items')).toBe(items);
    expect(await count('stripe_invoice_lines')).toBe(account.invoices.rows.reduce((n, i) => n + i.lines.data.length, 0));
    const linesOfLong = await h.db('stripe_invoice_lines').where({ workspace_id: workspaceId, invoice_id: longLists.invoice.id }).pluck('id');
    expect(linesOfLong.sort()).toEqual(longLists.invoice.lines.data.map((l) => l.id).sort());
    // The rest came from the lists' own urls.
    const paths = h.sim.requests().map((r) => r.path);
    expect(paths).toContain(`/v1/invoices/${longLists.invoice.id}/lines`);
    expect(paths).toContain('/v1/subscription_items');
    const itemsOfLong = await h.db('stripe_subscription_items').where({ workspace_id: workspaceId, subscription_id: longLists.subscription.id }).pluck('id');
    expect(itemsOfLong.sort()).toEqual(longLists.subscription.items.data.map((i) => i.id).sort());
    expect(h.sim.stats().rateLimited).toBe(0);
    // The finished sync rebuilt the analytics from the new mirror.
    const paying = await h.db('analytics_movements').where({ workspace_id: workspaceId, kind: 'new' }).countDistinct<{ c: string }[]>('customer_id as c');
    expect(Number(paying[0]!.c)).toBeGreaterThan(0);
  });

  it("stores each subscription discount with its coupon's terms", async () => {
    const discounted = h.sim.account().subscriptions.rows.filter((s) => (s.discounts ?? []).length > 0);
    expect(discounted.length).toBeGreaterThan(0);
    for (const s of discounted) {
      const row = await h.db('stripe_subscriptions').where({ workspace_id: workspaceId, id: s.id }).first<{ discounts: { id: string; coupon: { percent_off: number | null; amount_off: number | null; duration: string } }[] }>();
      expect(row?.discounts.map((d) => d.id)).toEqual(s.discounts.map((d) => (typeof d === 'string' ? d : d.id)));
      for (const d of row.discounts) {
        expect(typeof d.coupon.percent_off === 'number' || typeof d.coupon.amount_off === 'number').toBe(true);
        expect(['once', 'repeating', 'forever']).toContain(d.coupon.duration);
        // Read with its restriction: none for the generated coupons.
        expect('applies_to' in d.coupon).toBe(true);
      }
    }
  });

  it("stores each item's own discounts with their coupons' terms, and every coupon's restriction to products, reading each coupon once", async () => {
    const { subscription, plan, coupon, onSubscription, onItem, farItem, onFarItem } = restricted;
    const terms = (id: string, c: { id: string; percent_off: number }, appliesTo: { products: string[] } | null) => ({
      id,
      coupon: { id: c.id, percent_off: c.percent_off, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: appliesTo },
      start: h.sim.account().discounts.get(id)!.start,
      end: null,
    });
    const planOnly = { products: [productOf(plan.price)] };
    const itemDiscounts = async (id: string) => (await h.db('stripe_subscription_items').where({ workspace_id: workspaceId, id }).first<{ discounts: unknown }>('discounts'))?.discounts;
    expect(await itemDiscounts(plan.id)).toEqual([terms(onItem.id, { id: 'PARTNER10', percent_off: 10 }, null)]);
    // Past the items Stripe embeds: read from the items' list, its discounts expanded there.
    expect(await itemDiscounts(farItem.id)).toEqual([terms(onFarItem.id, { id: coupon.id, percent_off: 30 }, planOnly)]);
    const subDiscounts = await h.db('stripe_subscriptions').where({ workspace_id: workspaceId, id: subscription.id }).first<{ discounts: unknown }>('discounts');
    expect(subDiscounts?.discounts).toEqual([terms(onSubscription.id, { id: coupon.id, percent_off: 30 }, planOnly)]);
    // Items without discounts of their own store none.
    expect(await itemDiscounts(longLists.subscription.items.data[0]!.id)).toEqual([]);
    // Each coupon a discount names was read once for its restriction, however many pages and discounts name it.
    const named = new Set(
      h.sim
        .account()
        .subscriptions.rows.flatMap((s) => [...s.discounts, ...s.items.data.flatMap((i) => i.discounts)])
        .map((d) => h.sim.account().discounts.get(typeof d === 'string' ? d : d.id)!.source.coupon as string),
    );
    const couponReads = h.sim.requests().filter((r) => r.path.startsWith('/v1/coupons/') && r.status === 200);
    expect(couponReads.map((r) => r.path).sort()).toEqual([...named].map((id) => `/v1/coupons/${id}`).sort());
  });

  it('reports progress per resource: objects, pages, done', () => {
    const byName = Object.fromEntries(body.resources.map((r) => [r.resource, r]));
    expect(Object.keys(byName).sort()).toEqual(['charges', 'customers', 'invoices', 'payment_intents', 'prices', 'products', 'refunds', 'subscriptions']);
    expect(byName.customers).toMatchObject({ objects: h.sim.account().customers.size, done: true, fraction: 1 });
    expect(byName.invoices!.pages).toBeGreaterThanOrEqual(Math.ceil(h.sim.account().invoices.size / 100));
    expect(body.etaSeconds).toBe(0);
  });

  it('answers the same progress as a workflow query', async () => {
    const view: SyncProgressView = await h.server.client.workflow.getHandle(body.run.workflowId).query(syncProgressQuery);
    expect(view.status).toBe('completed');
    expect(view.resources.find((r) => r.resource === 'customers')).toMatchObject({ objects: h.sim.account().customers.size, done: true });
  });

  it('stores no card or payment-method details', async () => {
    const charges = await h.db<Record<string, unknown>>('stripe_charges').where({ workspace_id: workspaceId });
    expect(charges.length).toBeGreaterThan(0);
    const text = JSON.stringify(charges);
    expect(text).not.toMatch(/last4|fingerprint|exp_month|payment_method/);
  });
});

describe('re-sync', () => {
  it('a repeated full sync changes nothing', async () => {
    const before = await mirrorContent();
    expect((before.stripe_customers as { contact?: { email: string | null } }[]).every((c) => c.contact?.email)).toBe(true);
    const res = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'full' }, owner);
    expect(res.status).toBe(202);
    const done = await waitForSync(res.body.runId as string);
    expect({ status: done.run.status, error: done.run.error }).toEqual({ status: 'completed', error: null });
    const after = await mirrorContent();
    for (const t of MIRROR) {
      const changed = after[t]!.filter((row, i) => JSON.stringify(row) !== JSON.stringify(before[t]![i]));
      expect({ table: t, changed: changed.slice(0, 2) }).toEqual({ table: t, changed: [] });
    }
  });

  it('since a date fetches only what was created since then', async () => {
    const account = h.sim.account();
    const invoices = account.invoices.rows;
    const created = invoices.map((i) => i.created).sort((a, b) => a - b);
    const since = new Date(created[Math.floor(created.length / 2)]! * 1000);
    const res = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'since', since: since.toISOString() }, owner);
    expect(res.status).toBe(202);
    const done = await waitForSync(res.body.runId as string);
    const inv = done.resources.find((r) => r.resource === 'invoices')!;
    expect(inv.objects).toBe(invoices.filter((i) => i.created >= since.getTime() / 1000).length);
    expect(inv.objects).toBeLessThan(invoices.length);
  });

  it('refuses a second sync while one runs, and bad requests by field', async () => {
    const first = await h.call('POST', `/workspaces/${workspaceId}/sync`, {}, owner);
    expect(first.status).toBe(202);
    const second = await h.call('POST', `/workspaces/${workspaceId}/sync`, {}, owner);
    expect(second.status).toBe(409);
    await waitForSync(first.body.runId as string);
    const noSince = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'since' }, owner);
    expect(noSince.status).toBe(400);
    expect(noSince.text).toContain('since');
    const future = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'since', since: '2999-01-01T00:00:00Z' }, owner);
    expect(future.status).toBe(400);
  });

  it('rides out 429s above the account\'s limit and a Stripe outage, ending with the same mirror', async () => {
    const before = await mirrorContent();
    // The workspace asks for 30 req/s; the account now allows 8, and fails for a while.
    h.sim.setRateLimit(8);
    h.sim.resetStats();
    try {
      const res = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'full' }, owner);
      expect(res.status).toBe(202);
      h.sim.setOutage({ mode: 'error', durationMs: 1500 });
      const done = await waitForSync(res.body.runId as string);
      expect({ status: done.run.status, error: done.run.error }).toEqual({ status: 'completed', error: null });
      const stats = h.sim.stats();
      expect(stats.rateLimited + stats.outageRefusals).toBeGreaterThan(0);
    } finally {
      h.sim.clearOutage();
      h.sim.setRateLimit(40);
    }
    expect(await mirrorContent()).toEqual(before);
  });

  it('needs the owner role', async () => {
    const viewer = await h.call('POST', `/workspaces/${workspaceId}/tokens`, { name: 'viewer', role: 'viewer' }, owner);
    expect(viewer.status).toBe(201);
    const token = viewer.body.token as string;
    expect((await h.call('GET', `/workspaces/${workspaceId}/sync`, undefined, token)).status).toBe(200);
    expect((await h.call('POST', `/workspaces/${workspaceId}/sync`, {}, token)).status).toBe(403);
  });
});

describe('product mapping', () => {
  type Plan = { productId: string; planName: string; tierRank: number; limits: Record<string, number | null>; monthlyAmount: number | null; source: string };

  it("derives defaults ranked by the catalogue's own tier order, then by monthly price", async () => {
    const res = await h.call('GET', `/workspaces/${workspaceId}/product-mapping`, undefined, owner);
    expect(res.status).toBe(200);
    const plans = res.body.products as Plan[];
    expect(plans.map((p) => p.tierRank)).toEqual(plans.map((_, i) => i + 1));
    // The simulated plans declare tier_order; by price alone Scale's per-seat price would rank it below Starter's flat one.
    expect(plans.map((p) => p.planName)).toEqual(['Starter', 'Growth', 'Scale', 'Enterprise', 'API overage']);
    const priced = plans.filter((p) => p.monthlyAmount !== null).map((p) => p.monthlyAmount!);
    expect(plans.every((p) => p.source === 'default')).toBe(true);
    // Prices are revenue figures: a viewer gets the plans without them.
    const viewer = (await h.call('POST', `/workspaces/${workspaceId}/tokens`, { name: 'plans viewer', role: 'viewer' }, owner)).body.token as string;
    const seen = (await h.call('GET', `/workspaces/${workspaceId}/product-mapping`, undefined, viewer)).body.products as Plan[];
    expect(priced.length).toBeGreaterThan(0);
    expect(seen.map((p) => [p.productId, p.planName, p.monthlyAmount])).toEqual(plans.map((p) => [p.productId, p.planName, null]));
  });

  it('takes overrides and refuses unknown products, duplicate ranks and negative limits by field', async () => {
    const plans = (await h.call('GET', `/workspaces/${workspaceId}/product-mapping`, undefined, owner)).body.products as Plan[];
    const [a, b] = plans;
    const put = (products: unknown[]) => h.call('PUT', `/workspaces/${workspaceId}/product-mapping`, { products }, owner);
    const swapped = await put([
      { productId: a!.productId, planName: 'Starter', tierRank: b!.tierRank, limits: { seats: 3 } },
      { productId: b!.productId, planName: 'Growth', tierRank: a!.tierRank, limits: { seats: null, api_calls: 10000 } },
    ]);
    expect(swapped.status).toBe(200);
    const after = swapped.body.products as Plan[];
    expect(after.find((p) => p.productId === a!.productId)).toMatchObject({ planName: 'Starter', tierRank: b!.tierRank, limits: { seats: 3 }, source: 'override' });

    const unknown = await put([{ productId: 'prod_nope', planName: 'X', tierRank: 99 }]);
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('products.0.productId');
    const dup = await put([{ productId: a!.productId, planName: 'X', tierRank: b!.tierRank }]);
    expect(dup.status).toBe(400);
    expect(dup.text).toContain('products.0.tierRank');
    const negative = await put([{ productId: a!.productId, planName: 'X', tierRank: 50, limits: { seats: -1 } }]);
    expect(negative.status).toBe(400);
    expect(negative.text).toContain('products.0.limits.seats');
    // The refused requests left the accepted mapping as it was.
    const now = (await h.call('GET', `/workspaces/${workspaceId}/product-mapping`, undefined, owner)).body.products as Plan[];
    expect(now).toEqual(after);
  });
});
