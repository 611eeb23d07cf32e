import { pino } from 'pino';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { createSyncActivities } from '../../activities/sync';
import { recomputeCustomers } from '../../activities/analytics';
import { ignoreFailingInboxEvent, inboxCounts, insertInboxEvent } from '../../db/inbox';
import { upsertSubscriptions } from '../../db/mirror';
import { createSyncRun, newSyncRunId } from '../../db/sync';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { startSimulator, type Simulator } from '../../sim/server';
import { createMirrorRefetch } from '../../workers/mirror-refetch';
import { InboxRelay, type RelayOptions } from '../../workers/relay';
import { freshDatabase } from '../helpers/db';
import { stripeEvent } from '../helpers/stripe';
import { connectDevServer, eventually, runWorker, uniqueTaskQueue, type DevServer } from '../helpers/temporal';

/**
 * The relay wired as the worker wires it: two different states of one subscription
 * stamped with the same second cannot be ordered, so the relay asks Stripe (the
 * simulator) and keeps what Stripe says now.
 */
describe('relay re-fetches when ordering is in doubt', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_relayRefetch';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let worker: Awaited<ReturnType<typeof runWorker>>;
  let sim: Simulator;
  let taskQueue: string;

  beforeAll(async () => {
    database = await freshDatabase();
    sim = await startSimulator({ seed: 'relay-refetch', customers: 10, months: 3, port: 0 });
    await insertWorkspace(database.db, keyring, { id: ws, name: ws, webhookSecret: 'whsec_rr', stripeKey: sim.accounts[0]!.restrictedKey });
    temporal = await connectDevServer();
    taskQueue = uniqueTaskQueue('relay-refetch');
    worker = await runWorker(temporal, taskQueue);
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    await sim?.stop();
    await database?.drop();
  });

  /** A relay as the worker wires it, re-fetching through `stripe`. */
  const relayAskingStripe = (stripe: StripeClients, more: Partial<RelayOptions> = {}) =>
    new InboxRelay({
      db: database.db,
      databaseUrl: database.url,
      client: temporal.client,
      taskQueue,
      log: pino({ level: 'silent' }),
      pollMs: 50,
      refetch: createMirrorRefetch({ db: database.db, keyring, stripe }),
      ...more,
    });

  it("stores Stripe's current state, not the later arrival, and counts the re-fetch", async () => {
    const current = sim.account().subscriptions.rows.find((s) => s.items.data.length === 1 && s.status === 'active')!;
    const customer = typeof current.customer === 'string' ? current.customer : current.customer.id;
    const second = Math.floor(Date.now() / 1000) - 600;
    const withQuantity = (quantity: number): Stripe.Subscription => ({ ...current, items: { ...current.items, data: [{ ...current.items.data[0]!, quantity }] } });
    for (const [i, quantity] of [97, 98].entries()) {
      const event = stripeEvent('customer.subscription.updated', withQuantity(quantity) as unknown as Record<string, unknown>, { id: `evt_rr_${i}`, created: second });
      await insertInboxEvent(database.db, {
        workspaceId: ws,
        eventId: `evt_rr_${i}`,
        type: 'customer.subscription.updated',
        customerId: customer,
        objectId: current.id,
        stripeCreated: new Date(second * 1000),
        livemode: false,
        payload: event,
      });
    }
    const metrics = createMetrics();
    const relay = relayAskingStripe(new StripeClients({ endpoint: endpointOf(sim.url) }), { metrics });
    relay.start();
    try {
      await eventually(() => inboxCounts(database.db, ws), (c) => c.pending === 0 && c.processed === 2);
    } finally {
      await relay.stop();
    }
    const item = await database.db('stripe_subscription_items').where({ workspace_id: ws, id: current.items.data[0]!.id }).first<{ quantity: number } | undefined>('quantity');
    expect(item?.quantity).toBe(current.items.data[0]!.quantity);
    const refetches = await metrics.relayRefetches.get();
    expect(refetches.values.find((v) => v.labels.type === 'customer.subscription.updated')?.value).toBe(1);
  });

  it('defers only the customer whose event in doubt Stripe cannot settle; the others in the pass go through', async () => {
    const subs = sim.account().subscriptions.rows.filter((s) => s.items.data.length === 1 && s.status === 'active');
    const customerOf = (sub: Stripe.Subscription) => (typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
    const doubtful = subs.find((s) => customerOf(s) !== customerOf(subs[0]!) && s.id !== subs[0]!.id)!;
    // Neither is the first test's subscription (its mirror state is newer than these events).
    const clear = subs.find((s) => customerOf(s) !== customerOf(doubtful) && customerOf(s) !== customerOf(subs[0]!))!;
    const second = Math.floor(Date.now() / 1000) - 300;
    const store = async (sub: Stripe.Subscription, id: string, quantity: number) => {
      const object = { ...sub, items: { ...sub.items, data: [{ ...sub.items.data[0]!, quantity }] } };
      await insertInboxEvent(database.db, {
        workspaceId: ws,
        eventId: id,
        type: 'customer.subscription.updated',
        customerId: customerOf(sub),
        objectId: sub.id,
        stripeCreated: new Date(second * 1000),
        livemode: false,
        payload: stripeEvent('customer.subscription.updated', object, { id, created: second }),
      });
    };
    // Two states of one subscription in one second: only Stripe can tell. Stripe is down.
    await store(doubtful, 'evt_rrd_1', 51);
    await store(doubtful, 'evt_rrd_2', 52);
    await store(clear, 'evt_rrc_1', 53);
    sim.setOutage({ mode: 'error' });
    const relay = relayAskingStripe(new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 0 }, timeoutMs: 2000 }), { retryBaseMs: 60_000 });
    relay.start();
    try {
      const rows = () => database.db('webhook_inbox').whereIn('event_id', ['evt_rrd_1', 'evt_rrd_2', 'evt_rrc_1']).orderBy('seq').select<{ event_id: string; status: string; attempts: number }[]>('event_id', 'status', 'attempts');
      // One at a time, the first is clear (nothing stored from its second yet); the
      // second then ties with it, and waits for Stripe.
      const done = await eventually(rows, (r) => r[1]!.attempts > 0 && r[2]!.status === 'processed');
      expect(done.map((r) => [r.event_id, r.status])).toEqual([
        ['evt_rrd_1', 'processed'],
        ['evt_rrd_2', 'pending'],
        ['evt_rrc_1', 'processed'],
      ]);
    } finally {
      await relay.stop();
      sim.clearOutage();
    }
    const quantityOf = async (sub: Stripe.Subscription) =>
      (await database.db('stripe_subscription_items').where({ workspace_id: ws, id: sub.items.data[0]!.id }).first<{ quantity: number }>('quantity'))?.quantity;
    expect(await quantityOf(clear)).toBe(53);
    // The state in doubt was not written.
    expect(await quantityOf(doubtful)).toBe(51);
  });

  it("gives the mirror Stripe's current state of an event's object once an owner gives up on the event", async () => {
    const customerOf = (sub: Stripe.Subscription) => (typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
    // A paid invoice of a running subscription whose customer no test above touched.
    const touched = new Set((await database.db('webhook_inbox').where({ workspace_id: ws }).pluck('customer_id')) as string[]);
    const sub = sim.account().subscriptions.rows.find((s) => s.status === 'active' && !touched.has(customerOf(s)))!;
    const customer = customerOf(sub);
    const invoice = sim.account().invoices.rows.find((i) => i.status === 'paid' && i.parent?.subscription_details?.subscription === sub.id && i.amount_paid > 0)!;
    const at = Math.floor(Date.now() / 1000) - 900;
    const store = async (id: string, type: 'customer.subscription.updated' | 'invoice.payment_succeeded', object: Record<string, unknown>, objectId: string) =>
      insertInboxEvent(database.db, {
        workspaceId: ws,
        eventId: id,
        type,
        customerId: customer,
        objectId,
        stripeCreated: new Date(at * 1000),
        livemode: false,
        payload: stripeEvent(type, object, { id, created: at }),
      });
    // The mirror learns of the subscription; then a payment event it cannot take (its
    // lines are no list) fails at every try.
    await store('evt_rg_sub', 'customer.subscription.updated', sub as unknown as Record<string, unknown>, sub.id);
    await store('evt_rg_bad', 'invoice.payment_succeeded', { ...invoice, lines: { object: 'list', has_more: false, data: 42 } }, invoice.id);
    const linesOf = async () => Number((await database.db('stripe_invoice_lines').where({ workspace_id: ws, invoice_id: invoice.id }).count<{ count: string }[]>('* as count'))[0]!.count);
    const mrrOf = async () => (await database.db('analytics_customers').where({ workspace_id: ws, customer_id: customer }).first<{ mrr: number } | undefined>('mrr'))?.mrr;
    const metrics = createMetrics();
    const relay = relayAskingStripe(new StripeClients({ endpoint: endpointOf(sim.url) }), { metrics, retryBaseMs: 60_000 });
    relay.start();
    try {
      const statusOf = async (eventId: string) => (await database.db('webhook_inbox').where({ workspace_id: ws, event_id: eventId }).first<{ status: string; attempts: number }>('status', 'attempts'));
      await eventually(() => statusOf('evt_rg_bad'), (r) => r.attempts > 0);
      expect((await statusOf('evt_rg_sub')).status).toBe('processed');
      // Nothing of the bad state is stored: the invoice's row went in one transaction with its lines, which failed.
      expect(await database.db('stripe_invoices').where({ workspace_id: ws, id: invoice.id }).first()).toBeUndefined();
      expect(await linesOf()).toBe(0);
      expect(await mrrOf()).toBe(0);

      const given = await ignoreFailingInboxEvent(database.db, ws, 'evt_rg_bad');
      expect(given).toMatchObject({ eventId: 'evt_rg_bad', rereadEventId: 'reread_evt_rg_bad' });
      const reread = await eventually(() => statusOf('reread_evt_rg_bad'), (r) => r.status !== 'pending');
      expect(reread.status).toBe('processed');
      expect((await statusOf('evt_rg_bad')).status).toBe('ignored');
    } finally {
      await relay.stop();
    }
    // The invoice as Stripe holds it now, read through the workspace's client and counted as a re-fetch.
    const stored = await database.db('stripe_invoices').where({ workspace_id: ws, id: invoice.id }).first<{ status: string; amount_paid: number }>('status', 'amount_paid');
    expect(stored).toEqual({ status: 'paid', amount_paid: invoice.amount_paid });
    expect(await linesOf()).toBe(invoice.lines.data.length);
    const refetches = await metrics.relayRefetches.get();
    expect(refetches.values.find((v) => v.labels.type === 'wysera.reread')?.value).toBe(1);
    // And the customer's analytics were recomputed from it: paying now, as a fresh recompute says.
    const [fresh] = await recomputeCustomers(database.db, ws, [customer]);
    expect(fresh!.mrr).toBeGreaterThan(0);
    expect(await mrrOf()).toBe(fresh!.mrr);
  });
  it('retries the customers Stripe could not settle side by side, not one after another inside their pass', async () => {
    const base = sim.account().subscriptions.rows.find((s) => s.items.data.length === 1 && s.discounts.length === 0)!;
    const second = Math.floor(Date.now() / 1000) - 1200;
    const customers = Array.from({ length: 6 }, (_, i) => `cus_hang_${i}`);
    // Each customer's subscription in two states from one second: only Stripe can tell.
    for (const [i, customer] of customers.entries()) {
      for (const quantity of [1, 2]) {
        const id = `evt_hang_${i}_${quantity}`;
        const object = { ...base, id: `sub_hang_${i}`, customer, items: { ...base.items, data: [{ ...base.items.data[0]!, id: `si_hang_${i}`, quantity }] } };
        await insertInboxEvent(database.db, {
          workspaceId: ws,
          eventId: id,
          type: 'customer.subscription.updated',
          customerId: customer,
          objectId: object.id,
          stripeCreated: new Date(second * 1000),
          livemode: false,
          payload: stripeEvent('customer.subscription.updated', object, { id, created: second }),
        });
      }
    }
    // Stripe takes requests and never answers them: each read waits out the client's timeout.
    sim.resetStats();
    sim.setOutage({ mode: 'timeout' });
    const relay = relayAskingStripe(new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 0 }, timeoutMs: 1500 }), { retryBaseMs: 60_000 });
    relay.start();
    try {
      const rows = () => database.db('webhook_inbox').where('event_id', 'like', 'evt_hang_%').orderBy('seq').select<{ status: string; attempts: number }[]>('status', 'attempts');
      // One at a time, each customer's first event is clear and goes through; its second
      // then ties with it, waits for Stripe again and is deferred.
      const done = await eventually(rows, (r) => r.every((row) => row.status === 'processed' || row.attempts > 0), 30_000);
      expect(done.map((row) => row.status)).toEqual(customers.flatMap(() => ['processed', 'pending']));
    } finally {
      await relay.stop();
      sim.clearOutage();
    }
    // The six retries waited on Stripe together; in turn inside their pass, they would
    // have held it (and, two such passes, every customer) for six timeouts. (The pass's
    // own reads wait at most four at a time, then one retry at a time: a peak of four.)
    expect(sim.stats().hangingPeak).toBeGreaterThanOrEqual(customers.length);
  });

  it("reads again the objects a sync's page cannot be ordered against, whichever way its write went", async () => {
    const customerOf = (sub: Stripe.Subscription) => (typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
    const touched = new Set((await database.db('webhook_inbox').where({ workspace_id: ws }).pluck('customer_id')) as string[]);
    // Without discounts: the simulator's events and rows name them by id only, the sync reads their terms.
    const subs = sim.account().subscriptions.rows.filter((s) => s.status === 'active' && s.discounts.length === 0 && !touched.has(customerOf(s)));
    const [inside, before, after, older, same] = subs;
    expect(same).toBeDefined();
    // Each state differs from Stripe's in its first item's quantity.
    const quantityOf = async (sub: Stripe.Subscription) =>
      (await database.db('stripe_subscription_items').where({ workspace_id: ws, id: sub.items.data[0]!.id }).first<{ quantity: number }>('quantity')).quantity;
    const withQuantity = (sub: Stripe.Subscription, quantity: number): Stripe.Subscription => {
      const [first, ...rest] = sub.items.data;
      return { ...sub, items: { ...sub.items, data: [{ ...first!, quantity }, ...rest] } };
    };
    // The simulator's clock stands still, so its every answer is dated in the second `now`:
    // a page's read is known to have happened between just before `now` (its round trip)
    // and the end of that second. The mirror holds states from events of:
    const now = sim.account().now;
    // that very second (the page is refused, yet may have read the subscription after the event),
    await upsertSubscriptions(database.db, ws, [withQuantity(inside!, 55)], new Date(now * 1000));
    // the second before (the page is written, yet the event may have come in the round trip's last moments),
    await upsertSubscriptions(database.db, ws, [withQuantity(before!, 77)], new Date((now - 1) * 1000));
    // a later second (newer for sure), an earlier one (older for sure), and that second with the page's own state.
    await upsertSubscriptions(database.db, ws, [withQuantity(after!, 66)], new Date((now + 5) * 1000));
    await upsertSubscriptions(database.db, ws, [withQuantity(older!, 88)], new Date((now - 10) * 1000));
    await upsertSubscriptions(database.db, ws, [same!], new Date(now * 1000));

    const runId = newSyncRunId();
    await createSyncRun(database.db, { id: runId, workspaceId: ws, workflowId: `sync-${runId}`, mode: 'full', windowStart: null, requestedBy: 'test' });
    const sync = createSyncActivities({ db: database.db, keyring, stripe: new StripeClients({ endpoint: endpointOf(sim.url) }), log: pino({ level: 'silent' }) });
    await new MockActivityEnvironment().run(sync.syncResource, { workspaceId: ws, runId, resource: 'subscriptions' as const, createdGte: null, spanStart: null });
    const quantities = async () => Promise.all([inside, before, after, older, same].map((sub) => quantityOf(sub!)));
    const simQuantity = (sub: Stripe.Subscription | undefined) => sub!.items.data[0]!.quantity;
    // (Whether the page was written over `before` depends on its round trip: under a second, it was.)
    const [insideNow, , afterNow, olderNow, sameNow] = await quantities();
    expect([insideNow, afterNow, olderNow, sameNow]).toEqual([55, 66, simQuantity(older), simQuantity(same)]);
    const syncedAt = async (sub: Stripe.Subscription) => (await database.db('stripe_subscriptions').where({ workspace_id: ws, id: sub.id }).first<{ synced_at: Date }>('synced_at')).synced_at;
    const beforeSynced = await syncedAt(before!);
    // Only the two that may be on either side of the page are queued to be read again.
    const rereads = await database.db('webhook_inbox')
      .where({ workspace_id: ws, type: 'wysera.reread' })
      .whereIn('object_id', subs.slice(0, 5).map((sub) => sub.id))
      .orderBy('event_id');
    const expected = [inside!, before!].map((sub) => [`reread_${runId}_${sub.id}`, customerOf(sub), { object: 'subscription', id: sub.id, syncRunId: runId }] as const);
    expect(rereads.map((r: { event_id: string; customer_id: string; payload: unknown }) => [r.event_id, r.customer_id, r.payload])).toEqual(
      [...expected].sort((a, b) => a[0].localeCompare(b[0])),
    );

    const metrics = createMetrics();
    const relay = relayAskingStripe(new StripeClients({ endpoint: endpointOf(sim.url) }), { metrics });
    relay.start();
    try {
      const statuses = () => database.db('webhook_inbox').whereIn('event_id', expected.map(([id]) => id)).pluck('status') as Promise<string[]>;
      expect(await eventually(statuses, (list) => list.every((st) => st !== 'pending'))).toEqual(['processed', 'processed']);
    } finally {
      await relay.stop();
    }
    // Stripe's state wherever the order was in doubt (each read from Stripe and written
    // again); the newer state where it was not.
    expect(await quantities()).toEqual([simQuantity(inside), simQuantity(before), 66, simQuantity(older), simQuantity(same)]);
    expect((await syncedAt(before!)).getTime()).toBeGreaterThan(beforeSynced.getTime());
    expect((await metrics.relayRefetches.get()).values.find((v) => v.labels.type === 'wysera.reread')?.value).toBe(2);
  });

  it("completes an event's bare discount ids, its items' own too, from the terms the sync stored, asking Stripe nothing", async () => {
    const customerOf = (sub: Stripe.Subscription) => (typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
    const productOf = (price: Stripe.Price) => (typeof price.product === 'string' ? price.product : price.product.id);
    // A workspace of its own on the same account: a mirror no test above wrote to.
    const wsDiscounts = 'ws_relayDiscounts';
    await insertWorkspace(database.db, keyring, { id: wsDiscounts, name: wsDiscounts, webhookSecret: 'whsec_rr', stripeKey: sim.accounts[0]!.restrictedKey });
    const account = sim.account();
    const sub = account.subscriptions.rows.find((s) => s.status === 'active' && s.discounts.length === 0 && s.items.data.every((i) => i.discounts.length === 0))!;
    const plan = sub.items.data[0]!;
    // A coupon restricted to the plan's product on the subscription, and a discount of the plan item's own.
    account.createCoupon({ id: 'RELAYPLAN20', name: '20% off the plan', duration: 'forever', percentOff: 20, appliesTo: [productOf(plan.price)] });
    const restricted = account.addDiscount(sub.id, 'RELAYPLAN20');
    const own = account.addDiscount(sub.id, 'PARTNER10', { item: plan.id });
    const runId = newSyncRunId();
    await createSyncRun(database.db, { id: runId, workspaceId: wsDiscounts, workflowId: `sync-${runId}`, mode: 'full', windowStart: null, requestedBy: 'test' });
    const sync = createSyncActivities({ db: database.db, keyring, stripe: new StripeClients({ endpoint: endpointOf(sim.url) }), log: pino({ level: 'silent' }) });
    await new MockActivityEnvironment().run(sync.syncResource, { workspaceId: wsDiscounts, runId, resource: 'subscriptions' as const, createdGte: null, spanStart: null });
    const terms = (d: Stripe.Discount, coupon: { id: string; percent_off: number }, appliesTo: { products: string[] } | null) => ({
      id: d.id,
      coupon: { id: coupon.id, percent_off: coupon.percent_off, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: appliesTo },
      start: d.start,
      end: null,
    });
    const expected = { discounts: [terms(restricted, { id: 'RELAYPLAN20', percent_off: 20 }, { products: [productOf(plan.price)] })], plan: [terms(own, { id: 'PARTNER10', percent_off: 10 }, null)] };
    const stored = async () => ({
      discounts: (await database.db('stripe_subscriptions').where({ workspace_id: wsDiscounts, id: sub.id }).first<{ discounts: unknown }>('discounts'))?.discounts,
      plan: (await database.db('stripe_subscription_items').where({ workspace_id: wsDiscounts, id: plan.id }).first<{ discounts: unknown }>('discounts'))?.discounts,
    });
    expect(await stored()).toEqual(expected);

    // The event Stripe sent as the item's discount was added (every discount by id), delivered with its metadata changed since.
    const sent = account.events.rows.findLast((e) => e.type === 'customer.subscription.updated' && (e.data.object as { id: string }).id === sub.id)!;
    const event = sent.data.object as Stripe.Subscription;
    expect(event.discounts).toEqual([restricted.id]);
    expect(event.items.data[0]!.discounts).toEqual([own.id]);
    const changed = { ...event, metadata: { ...event.metadata, seats_note: 'changed' } };
    const at = account.now + 30;
    await insertInboxEvent(database.db, {
      workspaceId: wsDiscounts,
      eventId: 'evt_rr_discounts',
      type: 'customer.subscription.updated',
      customerId: customerOf(sub),
      objectId: sub.id,
      stripeCreated: new Date(at * 1000),
      livemode: false,
      payload: stripeEvent('customer.subscription.updated', changed, { id: 'evt_rr_discounts', created: at }),
    });
    sim.resetStats();
    const metrics = createMetrics();
    const relay = relayAskingStripe(new StripeClients({ endpoint: endpointOf(sim.url) }), { metrics });
    relay.start();
    try {
      await eventually(() => database.db('webhook_inbox').where({ workspace_id: wsDiscounts, event_id: 'evt_rr_discounts' }).first<{ status: string }>('status'), (r) => r.status === 'processed');
    } finally {
      await relay.stop();
    }
    // The event's state, the discounts with the terms the sync read, and nothing asked of Stripe.
    expect((await database.db('stripe_subscriptions').where({ workspace_id: wsDiscounts, id: sub.id }).first<{ metadata: Record<string, string> }>('metadata'))?.metadata).toMatchObject({ seats_note: 'changed' });
    expect(await stored()).toEqual(expected);
    expect(sim.requests().filter((r) => r.account === account.id)).toEqual([]);
    expect((await metrics.relayRefetches.get()).values).toEqual([]);
  });
});
