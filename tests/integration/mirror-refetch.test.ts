import fc from 'fast-check';
import { pino } from 'pino';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { StripeUnavailableError } from '../../activities/stripe-reader';
import { createSyncActivities } from '../../activities/sync';
import { createSyncRun, newSyncRunId } from '../../db/sync';
import type { Knex } from '../../db/knex';
import { discountTerms, upsertInvoices, upsertSubscriptions, type ReadCoupon } from '../../db/mirror';
import { WYSERA_PERMISSIONS } from '../../sim/keys';
import { insertWorkspace } from '../../db/workspaces';
import type { SubscribedEventType } from '../../domain/event-types';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startSimulator, type Simulator } from '../../sim/server';
import { applyEventsToMirror, applyEventToMirror, type MirrorApplyResult } from '../../workers/mirror-events';
import { createMirrorRefetch, type MirrorRefetch } from '../../workers/mirror-refetch';
import { freshDatabase } from '../helpers/db';
import { stripeEvent } from '../helpers/stripe';

/**
 * The relay's "re-fetch when in doubt", against real Postgres and the project's
 * Stripe simulator as the Stripe peer: a workspace connected to the simulated
 * account with its restricted key, sealed like any other.
 */
const keyring = parseKeyring(generateKeySpec());
const ws = 'ws_refetch';
/** Same account, no refetch: today's event-only behaviour, for contrast. */
const wsPlain = 'ws_refetchPlain';
/** Same account, a slow configured rate: shows refetches wait for the workspace's limiter. */
const wsSlow = 'ws_refetchSlow';
const SLOW_RPS = 4;

let db: Knex;
let drop: () => Promise<void>;
let sim: Simulator;
let stripe: StripeClients;
let refetch: MirrorRefetch;
let accountId: string;

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  sim = await startSimulator({ seed: 'mirror-refetch', customers: 40, months: 6, port: 0 });
  accountId = sim.accounts[0]!.id;
  // One retry, short timeout: an outage is reported in about a second.
  stripe = new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 1 }, timeoutMs: 3000 });
  const stripeKey = sim.accounts[0]!.restrictedKey;
  await insertWorkspace(db, keyring, { id: ws, name: 'Refetch', webhookSecret: 'whsec_refetch', stripeKey });
  await insertWorkspace(db, keyring, { id: wsPlain, name: 'Refetch plain', webhookSecret: 'whsec_refetch', stripeKey });
  await insertWorkspace(db, keyring, { id: wsSlow, name: 'Refetch slow', webhookSecret: 'whsec_refetch', stripeKey, settings: { stripeRateLimitRps: SLOW_RPS } });
  refetch = createMirrorRefetch({ db, keyring, stripe });
}, 60_000);

afterAll(async () => {
  sim?.clearOutage();
  await sim?.stop();
  await drop?.();
});

beforeEach(() => {
  sim.clearOutage();
  sim.resetStats();
});

type Json = Record<string, unknown>;
const clone = <T>(v: T): T => structuredClone(v);
/** A second well in the past on both clocks, so a refetch's time is clearly later. */
const pastSecond = (offset = 0) => Math.floor(Date.now() / 1000) - 600 + offset;
const apply = (workspace: string, type: SubscribedEventType, object: object, created: number, withRefetch = true): Promise<MirrorApplyResult> =>
  applyEventToMirror(db, workspace, type, stripeEvent(type, object as Json, { created }), withRefetch ? refetch : undefined);
/** The simulator's requests for our account, as it logged them. */
const stripeRequests = () => sim.requests().filter((r) => r.account === accountId);

const account = () => sim.account();
/** Simulated subscriptions, each used by one test only (tests share the mirror). */
const used = new Set<string>();
function simSubscription(pred: (s: Stripe.Subscription) => boolean): Stripe.Subscription {
  const s = account().subscriptions.rows.find((x) => !used.has(x.id) && pred(x));
  if (!s) throw new Error('the generated account has no such subscription');
  used.add(s.id);
  return clone(s);
}

/** A same-second copy of `sub` with other contents than Stripe's current state. */
function alteredSubscription(sub: Stripe.Subscription, status: Stripe.Subscription.Status, quantity: number): Stripe.Subscription {
  return { ...sub, status, items: { ...sub.items, data: sub.items.data.map((i) => ({ ...i, quantity })), has_more: false } };
}

const subscriptionRow = (workspace: string, id: string) => db('stripe_subscriptions').where({ workspace_id: workspace, id }).first<{ status: string; stripe_state_at: Date }>();
const itemsOf = async (workspace: string, subId: string) =>
  (await db('stripe_subscription_items').where({ workspace_id: workspace, subscription_id: subId }).orderBy('id').select<{ id: string; quantity: number | null }[]>('id', 'quantity')).map((r) => ({ id: r.id, quantity: r.quantity }));
const stripeItems = (s: Stripe.Subscription) => s.items.data.map((i) => ({ id: i.id, quantity: i.quantity ?? null })).sort((a, b) => a.id.localeCompare(b.id));

describe('same-second updates with different contents', () => {
  it("end in Stripe's current state, read once through the workspace's client", async () => {
    const current = simSubscription((s) => s.status !== 'past_due' && s.items.data.every((i) => i.quantity !== 7 && i.quantity !== 9));
    const t = pastSecond();
    const first = await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'past_due', 7), t);
    expect(first).toEqual({ written: true, refetched: false });
    expect(stripeRequests()).toEqual([]);

    const requestsBefore = stripe.statsOf(ws).requests;
    const second = await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'past_due', 9), t);
    expect(second).toEqual({ written: true, refetched: true });
    // Neither event's contents: the state Stripe holds now.
    expect((await subscriptionRow(ws, current.id))?.status).toBe(current.status);
    expect(await itemsOf(ws, current.id)).toEqual(stripeItems(current));
    // The refetch is dated by its read (on the simulator's clock, after both events), so both events are older now.
    expect((await subscriptionRow(ws, current.id)).stripe_state_at.getTime()).toBeGreaterThan((t + 1) * 1000);
    const requests = stripeRequests();
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/subscriptions/${current.id}`]);
    expect(requests[0]!.status).toBe(200);
    // Counted by the workspace's paced client: it went through the workspace's limiter.
    expect(stripe.statsOf(ws).requests - requestsBefore).toBe(1);

    // Either event delivered again is older than the refetched state: nothing changes, nothing is asked.
    expect(await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'past_due', 7), t)).toEqual({ written: false, refetched: false });
    expect(stripeRequests()).toHaveLength(1);
  });

  it('the same state delivered twice in one second is not in doubt', async () => {
    const current = simSubscription(() => true);
    const t = pastSecond(1);
    expect(await apply(ws, 'customer.subscription.created', current, t)).toEqual({ written: true, refetched: false });
    expect(await apply(ws, 'customer.subscription.created', clone(current), t)).toEqual({ written: true, refetched: false });
    expect(stripeRequests()).toEqual([]);
  });

  it('without a refetch, arrival order decides the tie (the event-only behaviour)', async () => {
    const current = simSubscription((s) => s.items.data.every((i) => i.quantity !== 9));
    const t = pastSecond();
    await apply(wsPlain, 'customer.subscription.updated', alteredSubscription(current, 'past_due', 7), t, false);
    expect(await apply(wsPlain, 'customer.subscription.updated', alteredSubscription(current, 'past_due', 9), t, false)).toEqual({ written: true, refetched: false });
    expect((await itemsOf(wsPlain, current.id)).map((i) => i.quantity)).toEqual(current.items.data.map(() => 9));
    expect(stripeRequests()).toEqual([]);
  });

  it('a sync-stored state from the same second loses to a different event only through Stripe', async () => {
    // A state stored at T.500 (a sync's fetch time) and an event stamped T: event-only
    // logic would drop the event; Stripe decides instead.
    const current = simSubscription((s) => s.status !== 'past_due');
    const t = pastSecond(2);
    await upsertSubscriptions(db, ws, [alteredSubscription(current, 'past_due', 5)], new Date(t * 1000 + 500));
    expect(await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'trialing', 6), t)).toEqual({ written: true, refetched: true });
    expect((await subscriptionRow(ws, current.id))?.status).toBe(current.status);
    expect(await itemsOf(ws, current.id)).toEqual(stripeItems(current));
  });
});

describe('truncated embedded lists', () => {
  it('a subscription event with items.has_more ends with every item Stripe has', async () => {
    const current = simSubscription((s) => s.items.data.length >= 2);
    const truncated: Stripe.Subscription = { ...current, items: { ...current.items, data: current.items.data.slice(0, 1), has_more: true } };
    expect(await apply(ws, 'customer.subscription.updated', truncated, pastSecond())).toEqual({ written: true, refetched: true });
    expect(await itemsOf(ws, current.id)).toEqual(stripeItems(current));
    expect(stripeRequests().map((r) => r.path)).toEqual([`/v1/subscriptions/${current.id}`]);

    // The event alone (no refetch) keeps only what it carries.
    await apply(wsPlain, 'customer.subscription.updated', clone(truncated), pastSecond(), false);
    expect((await itemsOf(wsPlain, current.id)).map((i) => i.id)).toEqual([current.items.data[0]!.id]);
  });

  it('an invoice event with lines.has_more ends with every line Stripe has', async () => {
    const current = clone(account().invoices.rows.find((i) => i.lines.data.length >= 2)!);
    const truncated: Stripe.Invoice = { ...current, lines: { ...current.lines, data: current.lines.data.slice(0, 1), has_more: true } };
    expect(await apply(ws, 'invoice.payment_succeeded', truncated, pastSecond())).toEqual({ written: true, refetched: true });
    const lines = await db('stripe_invoice_lines').where({ workspace_id: ws, invoice_id: current.id }).orderBy('id').pluck<string[]>('id');
    expect(lines).toEqual(current.lines.data.map((l) => l.id).sort());
    expect(stripeRequests().map((r) => r.path)).toEqual([`/v1/invoices/${current.id}`]);
  });

  it('a charge.refunded event with refunds.has_more ends with every refund Stripe has', async () => {
    const current = clone(account().charges.rows.find((c) => c.amount_refunded > 0)!);
    const refunds = account().refunds.rows.filter((r) => r.charge === current.id);
    expect(refunds.length).toBeGreaterThan(0);
    const truncated: Stripe.Charge = { ...current, refunds: { object: 'list', data: [], has_more: true, url: `/v1/charges/${current.id}/refunds` } };
    expect(await apply(ws, 'charge.refunded', truncated, pastSecond())).toEqual({ written: true, refetched: true });
    const stored = await db('stripe_refunds').where({ workspace_id: ws, charge_id: current.id }).orderBy('id').pluck<string[]>('id');
    expect(stored).toEqual(refunds.map((r) => r.id).sort());
    expect(stripeRequests().map((r) => r.path)).toEqual([`/v1/charges/${current.id}`, '/v1/refunds']);
  });

  it("stores a charge's refunds in the charge's mode (a Refund object does not say its own)", async () => {
    const charge = clone(account().charges.rows.find((c) => c.amount_refunded > 0)!);
    const refunds = account().refunds.rows.filter((r) => r.charge === charge.id);
    const live: Stripe.Charge = { ...charge, livemode: true, refunds: { object: 'list', data: refunds, has_more: false, url: `/v1/charges/${charge.id}/refunds` } };
    await insertWorkspace(db, keyring, { id: 'ws_refundMode', name: 'Refund mode', webhookSecret: 'whsec_refetch', livemode: true });
    expect(await apply('ws_refundMode', 'charge.refunded', live, pastSecond(), false)).toEqual({ written: true, refetched: false });
    const stored = await db('stripe_refunds').where({ workspace_id: 'ws_refundMode', charge_id: charge.id }).select<{ livemode: boolean }[]>('livemode');
    expect(stored.map((r) => r.livemode)).toEqual(refunds.map(() => true));
  });
});

describe('out-of-order delivery', () => {
  it('an older event after a newer one writes nothing and asks Stripe nothing, even truncated', async () => {
    const current = simSubscription((s) => s.items.data.length >= 2);
    const t = pastSecond();
    expect(await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'active', 3), t + 10)).toEqual({ written: true, refetched: false });
    const before = await itemsOf(ws, current.id);
    const older: Stripe.Subscription = { ...alteredSubscription(current, 'past_due', 8), items: { ...current.items, data: current.items.data.slice(0, 1), has_more: true } };
    expect(await apply(ws, 'customer.subscription.updated', older, t)).toEqual({ written: false, refetched: false });
    expect((await subscriptionRow(ws, current.id))?.status).toBe('active');
    expect(await itemsOf(ws, current.id)).toEqual(before);
    expect(stripeRequests()).toEqual([]);
  });
});

describe('shuffled and duplicated storms with same-second ties', () => {
  it("end in Stripe's current state, as one ordered delivery would", async () => {
    // Each run: a history of one subscription whose last step is the state Stripe
    // holds now, with some steps in the same second, delivered shuffled and repeated.
    const current = simSubscription((s) => s.items.data.length === 1 && s.status !== 'canceled');
    const quantity = current.items.data[0]!.quantity ?? 1;
    const step = fc.record({ quantity: fc.integer({ min: 1, max: 40 }), status: fc.constantFrom<Stripe.Subscription.Status>('trialing', 'active', 'past_due'), sameSecond: fc.boolean() });
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.nat(), async (steps, lastTied, seed) => {
        round++;
        const workspace = `ws_refetchStorm${round}`;
        await insertWorkspace(db, keyring, { id: workspace, name: workspace, webhookSecret: 'whsec_refetch', stripeKey: sim.accounts[0]!.restrictedKey });
        const history = [...steps, { quantity, status: current.status, sameSecond: lastTied }];
        let second = pastSecond();
        const events = history.map((h, i) => {
          if (i > 0 && !h.sameSecond) second += 1;
          return { object: alteredSubscription(current, h.status, h.quantity), created: second };
        });
        const deliveries = events.flatMap((e, i) => ((seed >> i % 16) & 1 ? [e, e] : [e]));
        const shuffled = fc.sample(fc.shuffledSubarray(deliveries, { minLength: deliveries.length, maxLength: deliveries.length }), { seed, numRuns: 1 })[0]!;
        for (const e of shuffled) await apply(workspace, 'customer.subscription.updated', clone(e.object), e.created);
        expect((await subscriptionRow(workspace, current.id))?.status).toBe(current.status);
        expect(await itemsOf(workspace, current.id)).toEqual(stripeItems(current));
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});

describe('Stripe unavailable', () => {
  for (const mode of ['error', 'down'] as const) {
    it(`a doubtful event during an outage (${mode}) throws a retryable error and leaves the mirror unchanged`, async () => {
      const current = simSubscription((s) => s.status !== 'past_due');
      const t = pastSecond();
      await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'past_due', 4), t);
      const rowBefore = await subscriptionRow(ws, current.id);
      const itemsBefore = await itemsOf(ws, current.id);

      sim.setOutage({ mode });
      await expect(apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'trialing', 11), t)).rejects.toBeInstanceOf(StripeUnavailableError);
      expect(await subscriptionRow(ws, current.id)).toEqual(rowBefore);
      expect(await itemsOf(ws, current.id)).toEqual(itemsBefore);

      // When Stripe is back, the relay's retry of the same event ends in Stripe's state.
      sim.clearOutage();
      expect(await apply(ws, 'customer.subscription.updated', alteredSubscription(current, 'trialing', 11), t)).toEqual({ written: true, refetched: true });
      expect((await subscriptionRow(ws, current.id))?.status).toBe(current.status);
      expect(await itemsOf(ws, current.id)).toEqual(stripeItems(current));
    }, 30_000);
  }
});

describe('the rate limit', () => {
  it("every refetch waits for the workspace's limiter", async () => {
    const subs = [0, 1, 2, 3].map(() => simSubscription((s) => s.items.data.length >= 1));
    const requestsBefore = stripe.statsOf(wsSlow).requests;
    const started = Date.now();
    const results = await Promise.all(
      subs.map((s) => apply(wsSlow, 'customer.subscription.updated', { ...s, items: { ...s.items, data: s.items.data.slice(0, 1), has_more: true } }, pastSecond())),
    );
    expect(results.every((r) => r.refetched)).toBe(true);
    const requests = stripeRequests();
    expect(requests.map((r) => r.path).sort()).toEqual(subs.map((s) => `/v1/subscriptions/${s.id}`).sort());
    expect(stripe.statsOf(wsSlow).requests - requestsBefore).toBe(requests.length);
    // One token per request at SLOW_RPS: the fourth cannot leave before three intervals.
    const last = Math.max(...requests.map((r) => r.at));
    expect(last - started).toBeGreaterThanOrEqual(((requests.length - 1) * 1000) / SLOW_RPS - 20);
  });
});

describe('a workspace without a Stripe key', () => {
  beforeAll(async () => {
    await insertWorkspace(db, keyring, { id: 'ws_refetchNoKey', name: 'No key', webhookSecret: 'whsec_refetch' });
  });

  it('cannot ask Stripe, so a same-second tie goes by the life of the object: never back from its end', async () => {
    const current = simSubscription((s) => s.status === 'active' && s.items.data.every((i) => i.quantity !== 5));
    const t = pastSecond(2);
    const ended: Stripe.Subscription = { ...current, status: 'canceled', ended_at: t, canceled_at: t };
    expect(await apply('ws_refetchNoKey', 'customer.subscription.deleted', ended, t)).toEqual({ written: true, refetched: false });
    // An update of the same second arriving late: Stripe cannot be asked, and it would undo the end.
    expect(await apply('ws_refetchNoKey', 'customer.subscription.updated', alteredSubscription(current, 'active', 5), t)).toEqual({ written: false, refetched: false });
    expect(await subscriptionRow('ws_refetchNoKey', current.id)).toMatchObject({ status: 'canceled' });
    expect((await itemsOf('ws_refetchNoKey', current.id)).map((i) => i.quantity)).not.toContain(5);
    // The same two in one pass, late one last: the end stays too.
    const other = simSubscription((s) => s.status === 'active');
    const events = [
      { type: 'customer.subscription.deleted' as const, payload: stripeEvent('customer.subscription.deleted', { ...other, status: 'canceled', ended_at: t, canceled_at: t }, { created: t }) },
      { type: 'customer.subscription.updated' as const, payload: stripeEvent('customer.subscription.updated', alteredSubscription(other, 'active', 5) as unknown as Json, { created: t }) },
    ];
    await applyEventsToMirror(db, 'ws_refetchNoKey', events, refetch);
    expect(await subscriptionRow('ws_refetchNoKey', other.id)).toMatchObject({ status: 'canceled' });
    // A state no further along still goes by arrival: the later of two running states is kept.
    const running = simSubscription((s) => s.status === 'active' && s.items.data.every((i) => i.quantity !== 5 && i.quantity !== 6));
    await apply('ws_refetchNoKey', 'customer.subscription.updated', alteredSubscription(running, 'active', 5), t);
    expect(await apply('ws_refetchNoKey', 'customer.subscription.updated', alteredSubscription(running, 'past_due', 6), t)).toEqual({ written: true, refetched: false });
    expect(await subscriptionRow('ws_refetchNoKey', running.id)).toMatchObject({ status: 'past_due' });
    expect(stripeRequests()).toEqual([]);
  });

  it("keeps a read's state further along than an event from the read's window when Stripe cannot be asked", async () => {
    const invoice = clone(account().invoices.rows.find((i) => i.status === 'paid' && i.amount_paid > 0)!);
    const t = pastSecond(3);
    // Read as paid, at the earliest 300 ms before second t and before its end.
    await upsertInvoices(db, 'ws_refetchNoKey', [invoice], { from: new Date(t * 1000 - 300), until: new Date((t + 1) * 1000) });
    // A failed payment from second t: it may have come before or after the read, and an
    // invoice never leaves paid, so the read's state stays.
    const failed = { ...invoice, status: 'open', amount_paid: 0, amount_remaining: invoice.amount_due };
    expect(await apply('ws_refetchNoKey', 'invoice.payment_failed', failed, t)).toEqual({ written: false, refetched: false });
    expect(await db('stripe_invoices').where({ workspace_id: 'ws_refetchNoKey', id: invoice.id }).first('status')).toEqual({ status: 'paid' });
    expect(stripeRequests()).toEqual([]);
  });

  it('cannot ask Stripe, so the event is applied as it is', async () => {
    const current = simSubscription((s) => s.items.data.length >= 2);
    const truncated: Stripe.Subscription = { ...current, items: { ...current.items, data: current.items.data.slice(0, 1), has_more: true } };
    expect(await apply('ws_refetchNoKey', 'customer.subscription.updated', truncated, pastSecond())).toEqual({ written: true, refetched: false });
    expect((await itemsOf('ws_refetchNoKey', current.id)).map((i) => i.id)).toEqual([current.items.data[0]!.id]);
    expect(stripeRequests()).toEqual([]);
  });
});

describe('discounts as bare ids', () => {
  // Stripe's subscription events list discounts by id; the sync stores them expanded.
  // The generated account has few discounted subscriptions: each test shares one and
  // takes its own workspace instead.
  const discounted = () => clone(account().subscriptions.rows.find((s) => (s.discounts ?? []).length > 0)!);
  let n = 0;
  async function freshWorkspace(): Promise<string> {
    const id = `ws_refetchDiscount${++n}`;
    await insertWorkspace(db, keyring, { id, name: id, webhookSecret: 'whsec_refetch', stripeKey: sim.accounts[0]!.restrictedKey });
    return id;
  }
  /** A discount as a sync reads it: expanded, its coupon too, with the coupon's restriction (null for none). */
  function readDiscount(d: string | Stripe.Discount): Stripe.Discount {
    const discount = clone(account().discounts.get(typeof d === 'string' ? d : d.id)!);
    const coupon = account().coupons.get(typeof discount.source.coupon === 'string' ? discount.source.coupon : discount.source.coupon!.id)!;
    const read: ReadCoupon = { ...clone(coupon), applies_to: coupon.applies_to ?? null };
    return { ...discount, source: { ...discount.source, coupon: read as Stripe.Coupon } };
  }
  /** The subscription as a sync stores it: its discounts and its items' own read with their coupons (full terms). */
  function syncShaped(s: Stripe.Subscription): Stripe.Subscription {
    return { ...s, discounts: (s.discounts ?? []).map(readDiscount), items: { ...s.items, data: s.items.data.map((i) => ({ ...i, discounts: i.discounts.map(readDiscount) })) } };
  }
  const storedDiscounts = async (workspace: string, id: string) => (await db('stripe_subscriptions').where({ workspace_id: workspace, id }).first<{ discounts: unknown }>())?.discounts;

  for (const [label, withRefetch] of [
    ['with a refetch', true],
    ['without a refetch', false],
  ] as const) {
    it(`keep the stored coupon terms when the ids are the ones stored, asking Stripe nothing (${label})`, async () => {
      const workspace = await freshWorkspace();
      const current = discounted();
      const synced = syncShaped(current);
      const t = pastSecond(3);
      await upsertSubscriptions(db, workspace, [synced], new Date((t - 5) * 1000));
      const terms = synced.discounts.map(discountTerms);
      expect(terms.every((d) => typeof (d.coupon as { percent_off?: unknown }).percent_off !== 'undefined')).toBe(true);

      const status = current.status === 'past_due' ? 'active' : 'past_due';
      expect(await apply(workspace, 'customer.subscription.updated', { ...current, status }, t, withRefetch)).toEqual({ written: true, refetched: false });
      // The event's fields are written, the discounts keep their terms.
      expect((await subscriptionRow(workspace, current.id))?.status).toBe(status);
      expect(await storedDiscounts(workspace, current.id)).toEqual(terms);
      expect(stripeRequests()).toEqual([]);
    });
  }

  it("a discount the mirror holds no terms for is read from Stripe once, and ends with Stripe's terms", async () => {
    const workspace = await freshWorkspace();
    const current = discounted();
    const t = pastSecond(3);
    await upsertSubscriptions(db, workspace, [{ ...syncShaped(current), discounts: [] }], new Date((t - 5) * 1000));
    expect(await apply(workspace, 'customer.subscription.updated', clone(current), t)).toEqual({ written: true, refetched: true });
    expect(stripeRequests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/subscriptions/${current.id}`]);
    // Read with the coupons expanded: the stored terms carry percent_off / amount_off.
    const fromStripe = (syncShaped(current).discounts as Stripe.Discount[]).map(discountTerms);
    expect(fromStripe.every((d) => d.start !== undefined && 'coupon' in d)).toBe(true);
    const coupons = fromStripe.map((d) => d.coupon as { percent_off?: number | null; amount_off?: number | null });
    expect(coupons.every((c) => typeof c.percent_off === 'number' || typeof c.amount_off === 'number')).toBe(true);
    expect(await storedDiscounts(workspace, current.id)).toEqual(fromStripe);

    // Delivered again, the event is older than the refetched state: nothing is asked.
    expect(await apply(workspace, 'customer.subscription.updated', clone(current), t)).toEqual({ written: false, refetched: false });
    expect(stripeRequests()).toHaveLength(1);
  });

  it("an endpoint on a version before 2025-03-31 sends the discount whole: its terms are kept, its coupon's restriction only Stripe tells", async () => {
    const current = clone(account().subscriptions.rows.find((s) => s.discounts?.length === 1)!);
    const t = pastSecond(3);
    // That version's event: `discounts` as ids, and `discount` with its coupon expanded on it (no `source` before 2025-09-30), without its restriction.
    const [whole] = syncShaped(current).discounts as Stripe.Discount[];
    const { source, ...olderDiscount } = whole!;
    const { applies_to: _unread, ...coupon } = source.coupon as ReadCoupon;
    const event = { ...clone(current), discount: { ...olderDiscount, coupon } };
    const { applies_to: _none, ...unrestricted } = discountTerms(whole!).coupon as Record<string, unknown>;
    const withoutRestriction = { ...discountTerms(whole!), coupon: unrestricted };
    // Stripe not asked: the whole discount's terms, restriction unknown.
    const plain = await freshWorkspace();
    await upsertSubscriptions(db, plain, [{ ...syncShaped(current), discounts: [] }], new Date((t - 5) * 1000));
    expect(await apply(plain, 'customer.subscription.updated', event, t, false)).toEqual({ written: true, refetched: false });
    expect(await storedDiscounts(plain, current.id)).toEqual([withoutRestriction]);
    // Asked once, Stripe gives the restriction with the terms; the same discount's full terms stored already need no asking.
    const workspace = await freshWorkspace();
    await upsertSubscriptions(db, workspace, [{ ...syncShaped(current), discounts: [] }], new Date((t - 5) * 1000));
    expect(await apply(workspace, 'customer.subscription.updated', event, t)).toEqual({ written: true, refetched: true });
    expect(await storedDiscounts(workspace, current.id)).toEqual([discountTerms(whole!)]);
    expect(stripeRequests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/subscriptions/${current.id}`]);
    sim.resetStats();
    const synced = await freshWorkspace();
    await upsertSubscriptions(db, synced, [syncShaped(current)], new Date((t - 5) * 1000));
    expect(await apply(synced, 'customer.subscription.updated', event, t)).toEqual({ written: true, refetched: false });
    expect(await storedDiscounts(synced, current.id)).toEqual([discountTerms(whole!)]);
    expect(stripeRequests()).toEqual([]);
  });

  it('without a refetch, a discount the mirror holds no terms for is stored as the event has it', async () => {
    const workspace = await freshWorkspace();
    const current = discounted();
    const t = pastSecond(3);
    await upsertSubscriptions(db, workspace, [{ ...syncShaped(current), discounts: [] }], new Date((t - 5) * 1000));
    expect(await apply(workspace, 'customer.subscription.updated', clone(current), t, false)).toEqual({ written: true, refetched: false });
    expect(await storedDiscounts(workspace, current.id)).toEqual((current.discounts ?? []).map((d) => ({ id: d })));
    expect(stripeRequests()).toEqual([]);
  });

  it('a discount added beside ones the mirror has terms for keeps those terms when Stripe cannot be asked', async () => {
    const workspace = await freshWorkspace();
    const current = discounted();
    const t = pastSecond(3);
    const synced = syncShaped(current);
    await upsertSubscriptions(db, workspace, [synced], new Date((t - 5) * 1000));
    const added = { ...clone(current), discounts: [...(current.discounts ?? []), 'di_added_since'] } as Stripe.Subscription;
    expect(await apply(workspace, 'customer.subscription.updated', added, t, false)).toEqual({ written: true, refetched: false });
    expect(await storedDiscounts(workspace, current.id)).toEqual([...synced.discounts.map(discountTerms), { id: 'di_added_since' }]);
    expect(stripeRequests()).toEqual([]);
  });
});

describe('events applied together (a relay pass)', () => {
  const applyAll = (workspace: string, events: { type: SubscribedEventType; object: object; created: number }[]) =>
    applyEventsToMirror(
      db,
      workspace,
      events.map((e) => ({ type: e.type, payload: stripeEvent(e.type, e.object as Json, { created: e.created }) })),
      refetch,
    );

  it('writes only the newest event of each object, whatever the order, without asking Stripe', async () => {
    const a = simSubscription((s) => s.items.data.length > 0);
    const b = simSubscription((s) => s.items.data.length > 0);
    const t = pastSecond(10);
    const results = await applyAll(ws, [
      { type: 'customer.subscription.updated', object: alteredSubscription(a, 'active', 3), created: t + 2 },
      { type: 'customer.subscription.updated', object: alteredSubscription(b, 'active', 4), created: t },
      { type: 'customer.subscription.updated', object: alteredSubscription(a, 'past_due', 5), created: t + 1 },
      { type: 'customer.subscription.deleted', object: alteredSubscription(b, 'canceled', 6), created: t + 3 },
    ]);
    expect(results).toEqual([
      { written: true, refetched: false },
      { written: false, refetched: false },
      { written: false, refetched: false },
      { written: true, refetched: false },
    ]);
    expect((await subscriptionRow(ws, a.id))?.status).toBe('active');
    expect((await itemsOf(ws, a.id)).map((i) => i.quantity)).toEqual(a.items.data.map(() => 3));
    expect((await subscriptionRow(ws, b.id))?.status).toBe('canceled');
    expect((await subscriptionRow(ws, b.id)).stripe_state_at.getTime()).toBe((t + 3) * 1000);
    expect(stripeRequests()).toEqual([]);
  });

  it("two different states of one object from the same second end in Stripe's current state", async () => {
    const current = simSubscription((s) => s.status !== 'past_due' && s.items.data.every((i) => i.quantity !== 7 && i.quantity !== 9));
    const t = pastSecond(20);
    const results = await applyAll(ws, [
      { type: 'customer.subscription.updated', object: alteredSubscription(current, 'past_due', 7), created: t },
      { type: 'customer.subscription.updated', object: alteredSubscription(current, 'past_due', 9), created: t },
    ]);
    expect(results).toEqual([
      { written: false, refetched: false },
      { written: true, refetched: true },
    ]);
    expect((await subscriptionRow(ws, current.id))?.status).toBe(current.status);
    expect(await itemsOf(ws, current.id)).toEqual(stripeItems(current));
    expect(stripeRequests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/subscriptions/${current.id}`]);
  });

  it('the same event twice in a pass is not a tie: written once, Stripe not asked', async () => {
    // Without discounts: an event lists them by id, which the mirror must ask Stripe about.
    const current = simSubscription((s) => s.items.data.length > 0 && (s.discounts ?? []).length === 0);
    const t = pastSecond(30);
    const same = alteredSubscription(current, 'active', 2);
    const results = await applyAll(ws, [
      { type: 'customer.subscription.updated', object: same, created: t },
      { type: 'customer.subscription.updated', object: clone(same), created: t },
    ]);
    expect(results.map((r) => r.refetched)).toEqual([false, false]);
    expect(results[1]!.written).toBe(true);
    expect(stripeRequests()).toEqual([]);
  });
});

describe("items' own discounts as bare ids", () => {
  // A subscription event lists each item's discounts by id, as it does the subscription's.
  /** A running subscription of the simulated account with a discount of its plan item's own (and none of its own). */
  function withItemDiscount(): { sub: Stripe.Subscription; discount: Stripe.Discount } {
    const sub = simSubscription((s) => s.status === 'active' && (s.discounts ?? []).length === 0 && s.items.data.length > 0 && s.items.data.every((i) => i.discounts.length === 0));
    const discount = account().addDiscount(sub.id, 'PARTNER10', { item: sub.items.data[0]!.id });
    return { sub: clone(account().subscriptions.get(sub.id)!), discount };
  }
  const storedDiscounts = async (workspace: string, id: string) => (await db('stripe_subscriptions').where({ workspace_id: workspace, id }).first<{ discounts: unknown }>())?.discounts;
  const storedItemDiscounts = async (workspace: string, itemId: string) => (await db('stripe_subscription_items').where({ workspace_id: workspace, id: itemId }).first<{ discounts: unknown }>('discounts'))?.discounts;
  /** What a sync stores of the item's discount: its coupon's terms and restriction (none). */
  const fullTerms = (discount: Stripe.Discount) => ({
    id: discount.id,
    coupon: { id: 'PARTNER10', percent_off: 10, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: null },
    start: discount.start,
    end: null,
  });

  it('keep the terms the mirror holds for them, asking Stripe nothing', async () => {
    const { sub, discount } = withItemDiscount();
    const item = sub.items.data[0]!;
    const t = pastSecond(40);
    // As the sync stored it, with the item's discount read whole.
    await upsertSubscriptions(db, ws, [{ ...sub, items: { ...sub.items, data: sub.items.data.map((i) => (i.id === item.id ? { ...i, discounts: [{ ...discount, source: { type: 'coupon', coupon: { ...clone(account().coupons.get('PARTNER10')!), applies_to: null } as unknown as Stripe.Coupon } }] } : i)) } }], new Date((t - 5) * 1000));
    expect(await storedItemDiscounts(ws, item.id)).toEqual([fullTerms(discount)]);
    const status = sub.status === 'past_due' ? 'active' : 'past_due';
    expect(await apply(ws, 'customer.subscription.updated', { ...sub, status }, t)).toEqual({ written: true, refetched: false });
    expect((await subscriptionRow(ws, sub.id))?.status).toBe(status);
    expect(await storedItemDiscounts(ws, item.id)).toEqual([fullTerms(discount)]);
    expect(stripeRequests()).toEqual([]);
  });

  it("one the mirror holds no terms for is read from Stripe with the subscription, its coupon read for its terms and restriction", async () => {
    const { sub, discount } = withItemDiscount();
    const item = sub.items.data[0]!;
    const t = pastSecond(45);
    await upsertSubscriptions(db, ws, [{ ...sub, items: { ...sub.items, data: sub.items.data.map((i) => ({ ...i, discounts: [] })) } }], new Date((t - 5) * 1000));
    expect(await apply(ws, 'customer.subscription.updated', sub, t)).toEqual({ written: true, refetched: true });
    // The item's discounts lie one level past what a subscription's read may expand to its coupons: the coupon is read on its own.
    expect(stripeRequests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/subscriptions/${sub.id}`, 'GET /v1/coupons/PARTNER10']);
    expect(await storedItemDiscounts(ws, item.id)).toEqual([fullTerms(discount)]);
    // Without a refetch the id is stored as the event has it: a renewal quote reads it as unknown.
    const plain = wsPlain;
    await upsertSubscriptions(db, plain, [{ ...sub, items: { ...sub.items, data: sub.items.data.map((i) => ({ ...i, discounts: [] })) } }], new Date((t - 5) * 1000));
    expect(await apply(plain, 'customer.subscription.updated', sub, t, false)).toEqual({ written: true, refetched: false });
    expect(await storedItemDiscounts(plain, item.id)).toEqual([{ id: discount.id }]);
  });

  /** A workspace whose key may read all Wysera asks for but coupons (Coupons: Read is recommended, not required). */
  async function workspaceWithoutCoupons(id: string): Promise<string> {
    const { coupons: _none, ...permissions } = WYSERA_PERMISSIONS;
    await insertWorkspace(db, keyring, { id, name: id, webhookSecret: 'whsec_refetch', stripeKey: sim.addRestrictedKey(permissions) });
    return id;
  }
  /** The workspace's subscriptions synced, and what the sync warned of. */
  async function syncSubscriptions(workspace: string): Promise<string[]> {
    const runId = newSyncRunId();
    await createSyncRun(db, { id: runId, workspaceId: workspace, workflowId: `sync-${runId}`, mode: 'full', windowStart: null, requestedBy: 'test' });
    const said: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => said.push((JSON.parse(line) as { msg: string }).msg) });
    await new MockActivityEnvironment().run(createSyncActivities({ db, keyring, stripe, log }).syncResource, { workspaceId: workspace, runId, resource: 'subscriptions' as const, createdGte: null, spanStart: null });
    return said;
  }
  /** What the mirror stores of an item's discount whose coupon the key may not read: its id, and why no more. */
  const refusedTerms = (discount: Stripe.Discount) => ({ id: discount.id, coupon: { id: 'PARTNER10', applies_to_unreadable: 'refused' }, start: discount.start, end: null });

  it('read with a key that may not read coupons, keeps what the subscription tells of it, its terms unknown', async () => {
    const { sub, discount } = withItemDiscount();
    const item = sub.items.data[0]!;
    const workspace = await workspaceWithoutCoupons('ws_refetchNoCoupons');
    const t = pastSecond(50);
    expect(await apply(workspace, 'customer.subscription.created', sub, t)).toEqual({ written: true, refetched: true });
    expect(stripeRequests().map((r) => [r.path, r.status])).toEqual([
      [`/v1/subscriptions/${sub.id}`, 200],
      ['/v1/coupons/PARTNER10', 403],
    ]);
    expect(await storedItemDiscounts(workspace, item.id)).toEqual([refusedTerms(discount)]);

    // A sync with that key completes, asking for one coupon only, and says why.
    sim.resetStats();
    const said = await syncSubscriptions(workspace);
    expect(stripeRequests().filter((r) => r.path.startsWith('/v1/coupons/')).map((r) => r.status)).toEqual([403]);
    expect(said).toEqual([expect.stringContaining('grant Coupons: Read') as string]);
    expect(await storedItemDiscounts(workspace, item.id)).toEqual([refusedTerms(discount)]);
    const generated = account().subscriptions.rows.find((x) => (x.discounts ?? []).length > 0)!;
    const [first] = (await storedDiscounts(workspace, generated.id)) as { coupon: Record<string, unknown> }[];
    // The subscription's own discounts keep their coupons' terms, read with the list; their restriction stays unknown, and why is kept.
    expect(typeof first!.coupon.percent_off === 'number' || typeof first!.coupon.amount_off === 'number').toBe(true);
    expect('applies_to' in first!.coupon).toBe(false);
    expect(first!.coupon.applies_to_unreadable).toBe('refused');
  });

  it('a coupon the key may not read is asked for once: later events of the subscription ask Stripe nothing', async () => {
    const { sub, discount } = withItemDiscount();
    const item = sub.items.data[0]!;
    const workspace = await workspaceWithoutCoupons('ws_refetchNoCouponsAgain');
    expect(await apply(workspace, 'customer.subscription.created', sub, pastSecond(60))).toEqual({ written: true, refetched: true });
    expect(stripeRequests()).toHaveLength(2);
    sim.resetStats();
    // Events after the re-read's state, each with other contents than stored, the item's discount a bare id as Stripe sends it.
    const now = Math.floor(Date.now() / 1000);
    for (const [i, status] of (['past_due', 'active'] as const).entries()) {
      expect(await apply(workspace, 'customer.subscription.updated', { ...sub, status }, now + 5 * (i + 1))).toEqual({ written: true, refetched: false });
      expect((await subscriptionRow(workspace, sub.id))?.status).toBe(status);
    }
    expect(stripeRequests()).toEqual([]);
    expect(await storedItemDiscounts(workspace, item.id)).toEqual([refusedTerms(discount)]);
  });

  it('a sync with a key that may not read coupons keeps the full terms the mirror holds for a discount', async () => {
    const { sub, discount } = withItemDiscount();
    const item = sub.items.data[0]!;
    const workspace = await workspaceWithoutCoupons('ws_refetchNoCouponsSync');
    // Stored in full earlier (a key that could read coupons, then rolled for one that may not).
    const whole = { ...discount, source: { type: 'coupon', coupon: { ...clone(account().coupons.get('PARTNER10')!), applies_to: null } as unknown as Stripe.Coupon } } as Stripe.Discount;
    await upsertSubscriptions(db, workspace, [{ ...sub, items: { ...sub.items, data: sub.items.data.map((i) => (i.id === item.id ? { ...i, discounts: [whole] } : i)) } }], new Date(pastSecond(65) * 1000));
    expect(await storedItemDiscounts(workspace, item.id)).toEqual([fullTerms(discount)]);
    await syncSubscriptions(workspace);
    expect(stripeRequests().filter((r) => r.path === '/v1/coupons/PARTNER10').map((r) => r.status)).toEqual([403]);
    expect(await storedItemDiscounts(workspace, item.id)).toEqual([fullTerms(discount)]);
  });
});
