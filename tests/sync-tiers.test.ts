import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerPlan } from '../db/customer-plan';
import { priceCharge } from '../sim/billing';
import { syncHarness, type SyncHarness } from './sync-harness';

/**
 * A sync of a simulated account whose Enterprise plan is sold by volume tiers
 * (sim/catalog.ts): Stripe lists such prices without their tiers, so the mirror has
 * them only if the sync asks for them, and a customer's plan is priced by them.
 */
let h: SyncHarness;
let workspaceId: string;

beforeAll(async () => {
  // A fixed "now": this account has live Enterprise subscriptions of more than 20 seats.
  h = await syncHarness({ seed: 'sync-tiers', customers: 40, months: 12, now: 1_780_000_000, rateLimit: 0 });
  await h.startWorker();
  const synced = await h.syncedWorkspace('Tiers', 'whsec_syncTiers1');
  expect(synced.run).toMatchObject({ status: 'completed', error: null });
  workspaceId = synced.id;
}, 120_000);

afterAll(async () => {
  await h?.close();
});

const enterprisePrices = () => h.sim.account().prices.rows.filter((p) => p.metadata.tier === 'enterprise');

describe('a sync of volume-tiered prices', () => {
  it('mirrors each Enterprise price with its tiers, read one by one with expand', async () => {
    const prices = enterprisePrices();
    expect(prices).toHaveLength(9);
    const rows = await h.db('stripe_prices').where({ workspace_id: workspaceId, billing_scheme: 'tiered' }).orderBy('id').select('id', 'unit_amount', 'tiers_mode', 'tiers');
    expect(rows.map((r: { id: string }) => r.id)).toEqual(prices.map((p) => p.id).sort());
    for (const row of rows as { id: string; unit_amount: number | null; tiers_mode: string; tiers: unknown }[]) {
      const price = h.sim.account().prices.get(row.id)!;
      const tiers = price.tiers!.map((t) => ({ up_to: t.up_to, unit_amount: t.unit_amount, unit_amount_decimal: String(t.unit_amount_decimal), flat_amount: null, flat_amount_decimal: null }));
      expect(row).toEqual({ id: price.id, unit_amount: null, tiers_mode: 'volume', tiers });
    }
    // The list answered none: each came from the price itself, asked with its tiers.
    const asked = h.sim.requests().filter((r) => r.method === 'GET' && r.path.startsWith('/v1/prices/'));
    expect(new Set(asked.map((r) => r.path))).toEqual(new Set(prices.map((p) => `/v1/prices/${p.id}`)));
    expect(asked.filter((r) => !/expand\[\d*\]=tiers/.test(decodeURIComponent(r.query)))).toEqual([]);
  });

  it("prices an Enterprise customer's plan by the tier their seat count falls in", async () => {
    const live = h.sim
      .account()
      .subscriptions.rows.filter((s) => s.status === 'active' && s.items.data.some((i) => i.price.metadata.tier === 'enterprise'));
    const above = live.filter((s) => s.items.data[0]!.quantity! > 20);
    expect(above.length).toBeGreaterThan(0);
    for (const sub of live) {
      const item = sub.items.data.find((i) => i.price.metadata.tier === 'enterprise')!;
      const seats = item.quantity!;
      const amount = priceCharge(item.price, seats).amount;
      // Above 20 seats every seat costs the second tier's amount, not the list amount.
      expect(amount).toBe(seats * item.price.tiers![seats > 20 ? 1 : 0]!.unit_amount!);
      const { interval, interval_count: count } = item.price.recurring!;
      const months = interval === 'year' ? 12 * count : count;
      const plan = await customerPlan(h.db, workspaceId, sub.customer as string);
      expect(plan, `${sub.customer as string}: ${seats} × ${item.price.nickname}`).toEqual({
        subscriptionId: sub.id,
        productId: item.price.product,
        productName: 'Enterprise',
        monthlyValue: { amount: Math.round(amount / months), currency: sub.currency },
        item: { interval, intervalCount: count, quantity: seats, price: { amount, currency: sub.currency } },
      });
    }
  });
});
