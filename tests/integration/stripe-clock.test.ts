import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { upsertSubscriptions } from '../../db/mirror';
import { insertWorkspace } from '../../db/workspaces';
import { REREAD_EVENT_TYPE, type SubscribedEventType } from '../../domain/event-types';
import { applyEventToMirror, applyEventsToMirror } from '../../workers/mirror-events';
import { createMirrorRefetch, type MirrorRefetch } from '../../workers/mirror-refetch';
import { stripeEvent } from '../helpers/stripe';
import { eventually } from '../helpers/temporal';
import { syncHarness, type SyncHarness } from '../sync-harness';

/**
 * What the mirror reads from Stripe is dated on Stripe's clock, never on ours: here
 * Stripe's clock (the simulator's) is an hour behind this machine's, as if ours ran an
 * hour ahead. Dated by our clock, every read would look an hour newer than the events
 * that follow it, and those events would be dropped as old news. Real Postgres, the
 * real sync workflow on the Temporal dev server, the simulator as Stripe.
 */
const SKEW_S = 3600;

let h: SyncHarness;
let workspaceId: string;
let refetch: MirrorRefetch;

/** The simulator's clock (Stripe's), in Unix seconds. */
const stripeNow = () => h.sim.account().now;
const subscriptionRow = (id: string) => h.db('stripe_subscriptions').where({ workspace_id: workspaceId, id }).first<{ status: string; ended_at: Date | null; stripe_state_at: Date }>();
const apply = (type: SubscribedEventType, object: object, created: number) =>
  applyEventToMirror(h.db, workspaceId, type, stripeEvent(type, object as Record<string, unknown>, { created }), refetch);
/** Stripe ending `sub` at `at`: the event's copy of it. */
const ended = (sub: Stripe.Subscription, at: number): Stripe.Subscription => ({ ...sub, status: 'canceled', ended_at: at, canceled_at: at });

beforeAll(async () => {
  h = await syncHarness({ seed: 'stripe-clock', customers: 12, months: 3, rateLimit: 0, now: Math.floor(Date.now() / 1000) - SKEW_S });
  await h.startWorker();
  const created = await h.createWorkspace({ name: 'Clock', stripeKey: h.sim.accounts[0]!.restrictedKey, webhookSecret: 'whsec_clockTest1' });
  workspaceId = created.id;
  const { owner } = created;
  // Creating the workspace starts its first sync.
  await eventually(
    async () => (await h.call('GET', `/workspaces/${workspaceId}/sync`, undefined, owner)).body as { run?: { status: string } },
    (b) => b.run?.status === 'completed',
    90_000,
  );
  refetch = createMirrorRefetch({ db: h.db, keyring: h.keyring, stripe: h.stripe });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

const running = () => {
  const sub = h.sim.account().subscriptions.rows.find((s) => s.status === 'active' && s.items.data.length > 0 && !used.has(s.id));
  if (!sub) throw new Error('the generated account has no running subscription left');
  used.add(sub.id);
  return structuredClone(sub);
};
const used = new Set<string>();

describe("reads dated on Stripe's clock", () => {
  it("dates a sync's rows by Stripe's answers, so a later event still applies", async () => {
    const sub = running();
    const stored = await subscriptionRow(sub.id);
    expect(stored?.status).toBe('active');
    // No later than Stripe's clock when the list was answered: an hour before ours.
    expect(stored.stripe_state_at.getTime()).toBeLessThanOrEqual((stripeNow() + 1) * 1000);
    expect(stored.stripe_state_at.getTime()).toBeLessThan(Date.now() - (SKEW_S - 60) * 1000);

    // Stripe ends the subscription a few seconds after the sync read it (its clock).
    const at = stripeNow() + 5;
    expect(await apply('customer.subscription.deleted', ended(sub, at), at)).toMatchObject({ written: true });
    expect(await subscriptionRow(sub.id)).toMatchObject({ status: 'canceled', ended_at: new Date(at * 1000) });
  });

  it('dates a re-fetch by its answer, so the events after it still apply', async () => {
    const sub = running();
    // An event whose item list stops short: only Stripe can give the whole state.
    const at = stripeNow() + 10;
    const truncated: Stripe.Subscription = { ...sub, items: { ...sub.items, has_more: true } };
    expect(await apply('customer.subscription.updated', truncated, at)).toEqual({ written: true, refetched: true });
    const read = await subscriptionRow(sub.id);
    // Never before the event it settles, and on Stripe's clock, not an hour ahead on ours.
    expect(read.stripe_state_at.getTime()).toBeGreaterThanOrEqual(at * 1000);
    expect(read.stripe_state_at.getTime()).toBeLessThan(Date.now() - (SKEW_S - 60) * 1000);

    const later = at + 5;
    expect(await apply('customer.subscription.deleted', ended(sub, later), later)).toMatchObject({ written: true });
    expect(await subscriptionRow(sub.id)).toMatchObject({ status: 'canceled', ended_at: new Date(later * 1000) });
  });

  it('writes a re-fetch dated earlier than the stored state it settles, a slower read in the same second', async () => {
    const sub = running();
    // The mirror holds another state, from an earlier read dated half a second into
    // Stripe's current second; the read below, with its round trip, is dated before that.
    const second = stripeNow();
    const other: Stripe.Subscription = { ...sub, status: 'past_due' };
    await upsertSubscriptions(h.db, workspaceId, [other], new Date(second * 1000 + 500));
    // An event of that second whose item list stops short: only Stripe can settle it.
    const truncated: Stripe.Subscription = { ...other, items: { ...sub.items, has_more: true } };
    expect(await apply('customer.subscription.updated', truncated, second)).toEqual({ written: true, refetched: true });
    expect(await subscriptionRow(sub.id)).toMatchObject({ status: 'active', stripe_state_at: new Date(second * 1000 + 500) });
  });

  it("writes a re-read dated within the second of an event written in the same pass", async () => {
    const sub = running();
    // The event (another state, from Stripe's current second) goes in first; the re-read
    // of the same subscription, its round trip counted, is dated just before that second.
    const second = stripeNow();
    // The mirror's state as an event from ten seconds before left it: the event is clear.
    await h.db('stripe_subscriptions').where({ workspace_id: workspaceId, id: sub.id }).update({ stripe_state_at: new Date((second - 10) * 1000), stripe_read_until: null });
    const results = await applyEventsToMirror(h.db, workspaceId, [
      { type: 'customer.subscription.updated', payload: stripeEvent('customer.subscription.updated', { ...sub, status: 'past_due' }, { created: second }) },
      { type: REREAD_EVENT_TYPE, payload: { object: 'subscription', id: sub.id, givenUpEventId: 'evt_clock_given_up' } },
    ], refetch);
    expect(results).toEqual([
      { written: true, refetched: false },
      { written: true, refetched: true },
    ]);
    expect(await subscriptionRow(sub.id)).toMatchObject({ status: 'active', stripe_state_at: new Date(second * 1000) });
  });

  it('asks Stripe about an event from the second a read was answered in, rather than take it as newer', async () => {
    const sub = running();
    // The sync read it in Stripe's current second (the simulator's clock stands still):
    // stored as of just before that second, read before its end.
    const second = stripeNow();
    const stored = await h.db('stripe_subscriptions').where({ workspace_id: workspaceId, id: sub.id }).first<{ stripe_state_at: Date; stripe_read_until: Date }>();
    expect(stored.stripe_state_at.getTime()).toBeLessThan(second * 1000);
    expect(stored.stripe_read_until).toEqual(new Date((second + 1) * 1000));
    // An event from that second with another state may be older than the read: Stripe is
    // asked, and what it holds now (the read's state) stays.
    expect(await apply('customer.subscription.updated', { ...sub, status: 'past_due' }, second)).toEqual({ written: true, refetched: true });
    expect(await subscriptionRow(sub.id)).toMatchObject({ status: 'active' });
    // The same state from that second needs no question.
    expect(await apply('customer.subscription.updated', sub, second)).toEqual({ written: true, refetched: false });
  });

  it('dates a read from when its request went out, not from a wait for the rate limit before it', async () => {
    // Four reads at once through a workspace paced at 4 a second: the last waits about 750 ms for its turn.
    const slow = 'ws_clockSlow';
    await insertWorkspace(h.db, h.keyring, { id: slow, name: 'Clock slow', webhookSecret: 'whsec_clockSlow', stripeKey: h.sim.accounts[0]!.restrictedKey, settings: { stripeRateLimitRps: 4 } });
    const subs = h.sim.account().subscriptions.rows.slice(0, 4);
    const startedAt = performance.now();
    const reads = await Promise.all(subs.map((s) => refetch.subscription(slow, s.id)));
    expect(performance.now() - startedAt).toBeGreaterThan(600);
    // The simulator's clock stands still, so every answer says the same second: each read
    // is dated its own short round trip before it, however long it waited for its turn.
    const answered = stripeNow() * 1000;
    for (const read of reads) {
      expect(read!.readAt.getTime()).toBeLessThanOrEqual(answered);
      expect(read!.readAt.getTime()).toBeGreaterThan(answered - 300);
    }
  });
});
