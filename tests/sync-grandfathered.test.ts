import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerPlan } from '../db/customer-plan';
import { applyEventToMirror } from '../workers/mirror-events';
import { syncHarness, type SyncHarness } from './sync-harness';

/**
 * Prices Stripe's price list leaves out: a price archived after a price change, on
 * which the customers who had it keep being billed (grandfathered), and a price
 * created after the sync, first seen in a subscription's event. Both reach the mirror
 * from the subscription items that bill on them, so those customers keep a plan with
 * its amount (no renewal price, no pitch, no downgrade offer otherwise).
 */
let h: SyncHarness;
let workspaceId: string;
let grandfathered: Stripe.Price;
let current: Stripe.Price;
/** Live subscriptions on the archived price. */
let onOld: Stripe.Subscription[];
/** An archived price no subscription bills on. */
let retired: Stripe.Price;

const priceRow = (id: string) => h.db('stripe_prices').where({ workspace_id: workspaceId, id }).first<{ unit_amount: number; active: boolean; product_id: string } | undefined>();

beforeAll(async () => {
  h = await syncHarness({ seed: 'sync-grandfathered', customers: 60, months: 8, now: 1_780_000_000, rateLimit: 0 });
  const account = h.sim.account();
  // The per-unit price most live subscriptions bill on is raised: they keep the old one.
  const live = account.subscriptions.rows.filter((s) => s.status === 'active' && s.items.data[0]!.price.billing_scheme === 'per_unit');
  const counts = new Map<string, number>();
  for (const s of live) counts.set(s.items.data[0]!.price.id, (counts.get(s.items.data[0]!.price.id) ?? 0) + 1);
  const [topId] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  grandfathered = account.prices.get(topId)!;
  onOld = live.filter((s) => s.items.data[0]!.price.id === topId);
  current = account.changePrice(topId, grandfathered.unit_amount! + 1_000);
  // A price no subscription bills on any more, archived too: only a list of archived prices names it.
  const billed = new Set(account.subscriptions.rows.flatMap((s) => s.items.data.map((i) => i.price.id)));
  const unbilled = account.prices.rows.find((p) => p.active && p.billing_scheme === 'per_unit' && !billed.has(p.id))!;
  account.changePrice(unbilled.id, unbilled.unit_amount! + 1_000);
  retired = unbilled;

  await h.startWorker();
  const synced = await h.syncedWorkspace('Grandfathered', 'whsec_grandfathered1');
  expect(synced.run).toMatchObject({ status: 'completed', error: null });
  workspaceId = synced.id;
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe('prices the price list leaves out', () => {
  it('mirrors an archived price that subscriptions still bill on, from their items', async () => {
    expect(onOld.length).toBeGreaterThan(0);
    expect(await priceRow(grandfathered.id)).toMatchObject({ unit_amount: grandfathered.unit_amount, active: false, product_id: grandfathered.product });
    expect(await priceRow(current.id)).toMatchObject({ unit_amount: current.unit_amount, active: true });
    // Each grandfathered customer keeps their plan, at the amount they pay.
    for (const sub of onOld) {
      const plan = await customerPlan(h.db, workspaceId, sub.customer as string);
      expect(plan?.item.price, sub.id).toEqual({ amount: grandfathered.unit_amount! * sub.items.data[0]!.quantity!, currency: grandfathered.currency });
    }
  });

  it('lists the archived prices after the active ones, so a price nothing bills on now is mirrored too', async () => {
    expect(await priceRow(retired.id)).toMatchObject({ unit_amount: retired.unit_amount, active: false });
    const lists = h.sim.requests().filter((r) => r.method === 'GET' && r.path === '/v1/prices');
    expect(lists.some((r) => /(^|&)active=false(&|$)/.test(r.query))).toBe(true);
  });

  it('mirrors a price created since the sync from the first subscription event that bills on it', async () => {
    const account = h.sim.account();
    const newest = account.changePrice(current.id, current.unit_amount! + 1_000);
    const before = account.events.rows.length;
    // Days pass until someone signs up on it.
    let signup: Stripe.Event | undefined;
    for (let day = 0; day < 120 && !signup; day++) {
      account.advance(86_400);
      signup = account.events.rows
        .slice(before)
        .find((e) => e.type === 'customer.subscription.created' && e.data.object.items.data.some((i) => i.price.id === newest.id));
    }
    expect(signup, 'a signup on the new price').toBeDefined();
    expect(await priceRow(newest.id)).toBeUndefined();
    await applyEventToMirror(h.db, workspaceId, 'customer.subscription.created', signup);
    expect(await priceRow(newest.id)).toMatchObject({ unit_amount: newest.unit_amount, active: true });
  });
});
