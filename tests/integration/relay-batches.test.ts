import { Client } from '@temporalio/client';
import { pino } from 'pino';
import type { Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type Stripe from 'stripe';
import { inboxCounts, insertInboxEvent } from '../../db/inbox';
import { closeDunningCase, openDunningCase } from '../../db/dunning-cases';
import { upsertInvoices } from '../../db/mirror';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { InboxRelay, type RelayOptions } from '../../workers/relay';
import { customerWorkflowId, dunningWorkflowId } from '../../workflows/ids';
import { recentEventsQuery } from '../../workflows/messages';
import { freshDatabase, statementsOf } from '../helpers/db';
import { stripeEvent, stripeFixture } from '../helpers/stripe';
import { mirrorOpenInvoice } from '../helpers/mirror';
import { connectDevServer, eventually, runWorker, uniqueTaskQueue, type DevServer } from '../helpers/temporal';

type Json = Record<string, unknown>;
interface InboxRow {
  event_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

/**
 * The relay takes a customer's whole backlog at once: one transaction, one signal,
 * one completion. These tests fill the inbox while no relay runs, then start one.
 */
describe('relay batches per customer', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_batches';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let worker: Awaited<ReturnType<typeof runWorker>>;
  let taskQueue: string;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: ws, webhookSecret: 'whsec_batches' });
    temporal = await connectDevServer();
    taskQueue = uniqueTaskQueue('batches');
    worker = await runWorker(temporal, taskQueue, { db: database.db, keyring });
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    await database?.drop();
  });

  let n = 0;
  /** Stores an event about `object` of `customer` in the inbox, as the ingress would. */
  async function storeEvent(type: string, customer: string, object: Json, workspaceId = ws): Promise<string> {
    const event = stripeEvent(type, { ...object, customer }, { id: `evt_batch_${++n}`, created: 1_700_000_000 + n });
    await insertInboxEvent(database.db, {
      workspaceId,
      eventId: event.id as string,
      type,
      customerId: customer,
      objectId: object.id as string,
      stripeCreated: new Date((event.created as number) * 1000),
      livemode: false,
      payload: event,
    });
    return event.id as string;
  }

  /**
   * Stores a subscription event for `customer` with the item's quantity. By default the
   * subscription's end, of a subscription with an open invoice in the mirror: a type the
   * plays act on then, so each delivery reaches the workflow.
   */
  async function store(customer: string, quantity: number, object: Json = {}, type = 'customer.subscription.deleted', workspaceId = ws): Promise<string> {
    if (type === 'customer.subscription.deleted') await mirrorOpenInvoice(database.db, workspaceId, customer, `sub_${customer}`);
    return storeEvent(type, customer, { ...subscriptionOf(customer, quantity), ...object }, workspaceId);
  }

  /** Stripe's example subscription as `sub_<customer>`, with one item of its own (`si_<customer>`) of `quantity`. */
  function subscriptionOf(customer: string, quantity = 1): Json {
    const sub = stripeFixture('subscription');
    const items = sub.items as { data: Json[] };
    const subId = `sub_${customer}`;
    return { ...sub, id: subId, quantity, items: { ...items, has_more: false, data: [{ ...items.data[0], id: `si_${customer}`, quantity, subscription: subId }] } };
  }

  const invoice = (id: string): Json => ({ ...stripeFixture('invoice'), id });

  /** A relay on the test database and dev server; `options` override the defaults (client, lanes, batch size). */
  function relay(options: Partial<RelayOptions> = {}): InboxRelay {
    return new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue, log: pino({ level: 'silent' }), pollMs: 50, retryBaseMs: 60_000, ...options });
  }

  /** A histogram's `_count` or `_sum` (of one step's series when `step` is given). */
  const counted = async (histogram: Histogram, suffix: '_count' | '_sum', step?: string) =>
    (await histogram.get()).values.find((v) => v.metricName?.endsWith(suffix) && v.labels.step === step)?.value ?? 0;

  /** An inbox event's status. */
  const statusOf = async (id: string) => (await database.db('webhook_inbox').where({ event_id: id }).first<{ status: string }>('status')).status;

  /** Runs a relay until the events `ids` are processed. */
  async function relayUntilProcessed(ids: string[]): Promise<void> {
    const r = relay();
    r.start();
    try {
      await eventually(
        () => database.db('webhook_inbox').whereIn('event_id', ids).select<InboxRow[]>('status'),
        (rows) => rows.every((row) => row.status === 'processed'),
      );
    } finally {
      await r.stop();
    }
  }

  async function signalsReceived(customer: string): Promise<number> {
    const history = await temporal.client.workflow.getHandle(customerWorkflowId(ws, customer)).fetchHistory();
    return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  }

  /**
   * A Temporal client whose signals to `customer`'s workflow wait until `release()`;
   * `signalled` lists the workflows it was asked to signal, `held()` how often `customer`'s.
   */
  function gatedClient(customer: string) {
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const signalled: string[] = [];
    const client = new Client({
      connection: temporal.clientConnection,
      interceptors: {
        workflow: [
          {
            signalWithStart: async (input, next) => {
              signalled.push(input.options.workflowId);
              if (input.options.workflowId === customerWorkflowId(ws, customer)) await gate;
              return next(input);
            },
          },
        ],
      },
    });
    return { client, release: () => release(), signalled, held: () => signalled.filter((id) => id === customerWorkflowId(ws, customer)).length };
  }

  it("delivers a customer's backlog in one signal, in inbox order, and the mirror ends at the last state", async () => {
    const a = [await store('cus_a', 1, { ended_at: null }), await store('cus_b', 5), await store('cus_a', 2), await store('cus_a', 3, { ended_at: 1_700_000_500 }), await store('cus_b', 6)];
    const r = relay();
    r.start();
    try {
      await eventually(() => inboxCounts(database.db, ws), (c) => c.pending === 0 && c.processed === a.length);
    } finally {
      await r.stop();
    }
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_a')).query(recentEventsQuery);
    expect(recent.map((e) => e.eventId)).toEqual([a[0], a[2], a[3]]);
    // A subscription's end carries its time, which its final invoice's dunning compares.
    expect(recent.map((e) => e.subscriptionEndedAt)).toEqual([undefined, new Date(1_234_567_890_000).toISOString(), new Date(1_700_000_500_000).toISOString()]);
    expect(await signalsReceived('cus_a')).toBe(1);
    expect(await signalsReceived('cus_b')).toBe(1);
    const items = await database.db('stripe_subscription_items').where({ workspace_id: ws }).orderBy('id').select('id', 'quantity');
    expect(items).toEqual([
      { id: 'si_cus_a', quantity: 3 },
      { id: 'si_cus_b', quantity: 6 },
    ]);
  });

  it("takes along a head customer's later events, however far behind the head they arrived", async () => {
    const e = [await store('cus_e', 1), await store('cus_f', 1), await store('cus_g', 1), await store('cus_h', 1), await store('cus_e', 2), await store('cus_e', 3)];
    // Two events per pass from the head: cus_e and cus_f; cus_e's other two come along.
    const r = relay({ batchSize: 2 });
    r.start();
    try {
      await eventually(() => inboxCounts(database.db, ws), (c) => c.pending === 0);
    } finally {
      await r.stop();
    }
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_e')).query(recentEventsQuery);
    expect(recent.map((x) => x.eventId)).toEqual([e[0], e[4], e[5]]);
    expect(await signalsReceived('cus_e')).toBe(1);
  });

  it("holds back only a bad event and the same customer's later ones; the events before it and other customers go through", async () => {
    const good = await store('cus_c', 1);
    // Another subscription of the customer: a later event of the same one would
    // supersede the bad state in the mirror, and nothing would be held back.
    const bad = await store('cus_c', 2, { id: 'sub_cus_c_other', items: { object: 'list', has_more: false, data: 42 } });
    const after = await store('cus_c', 3);
    const other = await store('cus_d', 4);
    const r = relay();
    r.start();
    try {
      await eventually(
        () => database.db('webhook_inbox').where({ workspace_id: ws }).whereIn('event_id', [good, bad, after, other]).select<InboxRow[]>('event_id', 'status', 'attempts', 'last_error'),
        (rows) => rows.filter((row) => row.status === 'processed').length === 2 && rows.some((row) => row.attempts > 0),
      );
    } finally {
      await r.stop();
    }
    const rows = await database.db('webhook_inbox').whereIn('event_id', [good, bad, after, other]).orderBy('seq').select<InboxRow[]>('event_id', 'status', 'attempts', 'last_error');
    expect(rows.map((row) => [row.event_id, row.status])).toEqual([
      [good, 'processed'],
      [bad, 'pending'],
      [after, 'pending'],
      [other, 'processed'],
    ]);
    expect(rows[1]!.attempts).toBe(1);
    expect(rows[1]!.last_error).toMatch(/\w/);
    expect(rows[2]!.attempts).toBe(0);
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_c')).query(recentEventsQuery);
    expect(recent.map((e) => e.eventId)).toEqual([good]);
    // Nothing of the bad event reached the mirror. (A held-back event's state may: mirror
    // writes are newest-wins, and the event writes the same state again when it goes through.)
    expect(await database.db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_c_other' }).first()).toBeUndefined();
  });

  it('wakes the workflow only for events a play acts on; the mirror and the analytics take every event; each step is timed', async () => {
    const quiet = [await store('cus_q', 2, {}, 'customer.subscription.created'), await storeEvent('invoice.payment_succeeded', 'cus_q', invoice('in_q_paid_first_try'))];
    const loud = [
      await store('cus_l', 1, {}, 'customer.subscription.updated'),
      await storeEvent('invoice.payment_succeeded', 'cus_l', invoice('in_l_paid')),
      await storeEvent('invoice.payment_failed', 'cus_l', invoice('in_l_failed')),
      await storeEvent('invoice.payment_succeeded', 'cus_l', invoice('in_l_failed')),
    ];
    const metrics = createMetrics();
    const r = relay({ metrics });
    r.start();
    try {
      await eventually(
        () => database.db('webhook_inbox').whereIn('event_id', [...quiet, ...loud]).select<InboxRow[]>('status'),
        (rows) => rows.every((row) => row.status === 'processed'),
      );
    } finally {
      await r.stop();
    }
    // cus_q had a new subscription and a first-try payment: nothing for a play, no workflow.
    await expect(temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_q')).describe()).rejects.toThrow(/not found/i);
    expect(await database.db('stripe_subscription_items').where({ workspace_id: ws, id: 'si_cus_q' }).first('quantity')).toEqual({ quantity: 2 });
    expect(await database.db('stripe_invoices').where({ workspace_id: ws, id: 'in_q_paid_first_try' }).first('id')).toEqual({ id: 'in_q_paid_first_try' });
    expect(await database.db('analytics_customers').where({ workspace_id: ws, customer_id: 'cus_q' }).first('customer_id')).toEqual({ customer_id: 'cus_q' });
    // cus_l: the failed payment, and the payment of that same invoice, reach the plays.
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_l')).query(recentEventsQuery);
    expect(recent.map((e) => e.eventId)).toEqual([loud[2], loud[3]]);
    // Each pass that took events: one read, one mirror write, one recompute; one signal, cus_l's.
    const passes = await counted(metrics.relayPassEvents, '_count');
    expect(passes).toBeGreaterThan(0);
    expect(await counted(metrics.relayPassEvents, '_sum')).toBe(quiet.length + loud.length);
    for (const step of ['read', 'mirror', 'analytics']) expect([step, await counted(metrics.relayStepSeconds, '_count', step)]).toEqual([step, passes]);
    expect(await counted(metrics.relayStepSeconds, '_count', 'signal')).toBe(1);
    expect(await counted(metrics.relayStepSeconds, '_sum', 'signal')).toBeGreaterThan(0);
  });

  it("relays new events at once when the relay's clock lags the database's", async () => {
    // The relay's host ten minutes behind: each new event's next attempt (the database's now()) is in its future.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() - 10 * 60_000);
    try {
      await relayUntilProcessed([await store('cus_lag', 1, {}, 'customer.subscription.created')]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('leaves the analytics alone for a refund (not an MRR input), and still mirrors it', async () => {
    await relayUntilProcessed([await store('cus_r', 1, {}, 'customer.subscription.created')]);
    const charge = stripeFixture('charge');
    const refund = { ...stripeFixture('refund'), id: 're_cus_r', charge: 'ch_cus_r' };
    const refunded = await storeEvent('charge.refunded', 'cus_r', { ...charge, id: 'ch_cus_r', refunds: { object: 'list', has_more: false, data: [refund] } });
    // Every statement the relay sends while it takes the refund: none reads or writes the analytics.
    const sqls = (await statementsOf(database.db, () => relayUntilProcessed([refunded]))).statements.map((st) => st.sql);
    expect(sqls.some((sql) => sql.includes('stripe_refunds'))).toBe(true);
    expect(sqls.filter((sql) => sql.includes('analytics'))).toEqual([]);
    expect(await database.db('stripe_refunds').where({ workspace_id: ws, id: 're_cus_r' }).first('charge_id')).toEqual({ charge_id: 'ch_cus_r' });
  });

  it('sends a payment to the plays when its invoice failed in an earlier pass', async () => {
    const failed = await storeEvent('invoice.payment_failed', 'cus_p', invoice('in_p'));
    await relayUntilProcessed([failed]);
    const paidFirstTry = await storeEvent('invoice.payment_succeeded', 'cus_p', invoice('in_p_other'));
    const recovered = await storeEvent('invoice.payment_succeeded', 'cus_p', invoice('in_p'));
    await relayUntilProcessed([paidFirstTry, recovered]);
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_p')).query(recentEventsQuery);
    expect(recent.map((e) => e.eventId)).toEqual([failed, recovered]);
  });

  it('sends a payment to its running dunning after the inbox has forgotten the failure (retention), not to one that ended', async () => {
    const running = await storeEvent('invoice.payment_failed', 'cus_pr', invoice('in_pr'));
    const over = await storeEvent('invoice.payment_failed', 'cus_pr', invoice('in_pr_over'));
    await relayUntilProcessed([running, over]);
    // The cases the dunnings open (their Stripe reads are not what this is about).
    const openCase = (invoiceId: string) =>
      openDunningCase(database.db, { workspaceId: ws, invoiceId, customerId: 'cus_pr', workflowId: dunningWorkflowId(ws, invoiceId), currency: 'usd', amountDue: 2000, failedAt: new Date() });
    await openCase('in_pr');
    await openCase('in_pr_over');
    await closeDunningCase(database.db, ws, 'in_pr_over', { outcome: 'exhausted', stepsSent: [0, 1, 2], endedAt: new Date() });
    // What retention does to the failures once INBOX_RETENTION_DAYS have passed.
    await database.db('webhook_inbox').whereIn('event_id', [running, over]).delete();
    const recovered = await storeEvent('invoice.payment_succeeded', 'cus_pr', invoice('in_pr'));
    const late = await storeEvent('invoice.payment_succeeded', 'cus_pr', invoice('in_pr_over'));
    await relayUntilProcessed([recovered, late]);
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_pr')).query(recentEventsQuery);
    expect(recent.map((e) => e.eventId)).toEqual([running, over, recovered]);
  });

  it("sends a subscription's end to the plays only while the subscription has an unpaid invoice", async () => {
    const ofSub = (id: string, sub: string, status: string): Json => ({ ...invoice(id), status, parent: { type: 'subscription_details', subscription_details: { subscription: sub, metadata: {} } } });
    // An item of its own each: the pass writes all the subscriptions in one statement.
    const ended = (customer: string) => storeEvent('customer.subscription.deleted', customer, subscriptionOf(customer));
    const mirrorInvoice = (i: Json) => upsertInvoices(database.db, ws, [i as unknown as Stripe.Invoice], new Date());
    // cus_so: its invoice's payment failed and it is still open: the end stops that dunning.
    const open = [await storeEvent('invoice.payment_failed', 'cus_so', ofSub('in_so', 'sub_cus_so', 'open')), await ended('cus_so')];
    // cus_sp: the invoice failed, then was paid: its dunning is over, so the end wakes no one.
    const paid = [
      await storeEvent('invoice.payment_failed', 'cus_sp', ofSub('in_sp', 'sub_cus_sp', 'open')),
      await storeEvent('invoice.payment_succeeded', 'cus_sp', ofSub('in_sp', 'sub_cus_sp', 'paid')),
      await ended('cus_sp'),
    ];
    // cus_sn: no invoice at all; cus_sx: an open invoice, of another of its subscriptions.
    const none = await ended('cus_sn');
    await mirrorInvoice({ ...ofSub('in_sx', 'sub_cus_sx_other', 'open'), customer: 'cus_sx' });
    const other = await ended('cus_sx');
    // cus_sv: a voided invoice (a dunning in review mode would not notice on its own).
    await mirrorInvoice({ ...ofSub('in_sv', 'sub_cus_sv', 'void'), customer: 'cus_sv' });
    const voided = await ended('cus_sv');
    // As an endpoint on an API version before 2025-03-31 sends an invoice (the subscription
    // at the top, no parent): cus_sl's names the subscription ending, cus_sk's another.
    // cus_su: an open invoice naming no subscription, which might be the one ending.
    const { parent: _parent, ...noParent } = invoice('in_sl');
    await mirrorInvoice({ ...noParent, status: 'open', customer: 'cus_sl', subscription: 'sub_cus_sl' });
    await mirrorInvoice({ ...noParent, id: 'in_sk', status: 'open', customer: 'cus_sk', subscription: 'sub_cus_sk_other' });
    await mirrorInvoice({ ...noParent, id: 'in_su', status: 'open', customer: 'cus_su' });
    const legacy = await ended('cus_sl');
    const legacyOther = await ended('cus_sk');
    const unknown = await ended('cus_su');
    await relayUntilProcessed([...open, ...paid, none, other, voided, legacy, legacyOther, unknown]);
    const recentOf = (customer: string) => temporal.client.workflow.getHandle(customerWorkflowId(ws, customer)).query(recentEventsQuery);
    expect((await recentOf('cus_so')).map((e) => e.eventId)).toEqual(open);
    expect((await recentOf('cus_sp')).map((e) => e.eventId)).toEqual(paid.slice(0, 2));
    await expect(recentOf('cus_sn')).rejects.toThrow(/not found/i);
    await expect(recentOf('cus_sx')).rejects.toThrow(/not found/i);
    expect((await recentOf('cus_sv')).map((e) => e.eventId)).toEqual([voided]);
    expect((await recentOf('cus_sl')).map((e) => e.eventId)).toEqual([legacy]);
    await expect(recentOf('cus_sk')).rejects.toThrow(/not found/i);
    expect((await recentOf('cus_su')).map((e) => e.eventId)).toEqual([unknown]);
    expect(await database.db('stripe_invoices').where({ workspace_id: ws, id: 'in_sl' }).first('subscription_id')).toEqual({ subscription_id: 'sub_cus_sl' });
    // Every end reached the mirror all the same.
    const subs = ['so', 'sp', 'sn', 'sx', 'sv', 'sl', 'sk', 'su'].map((c) => `sub_cus_${c}`);
    expect(await database.db('stripe_subscriptions').where({ workspace_id: ws }).whereIn('id', subs).pluck('id')).toHaveLength(subs.length);
  });

  it('signals in the background: a slow signal holds back only its own customer, and stop() waits for it', async () => {
    // A Temporal client whose signals to cus_slow wait at the gate.
    const { client, release, held } = gatedClient('cus_slow');
    const first = await store('cus_slow', 1);
    const r = relay({ client });
    r.start();
    let later: string | undefined;
    try {
      await eventually(() => Promise.resolve(held()), (h) => h === 1);
      later = await store('cus_slow', 2);
      const other = await store('cus_fast', 3);
      // Another customer goes through while cus_slow's signal waits; cus_slow's events wait.
      await eventually(() => statusOf(other), (s) => s === 'processed');
      expect(await statusOf(first)).toBe('pending');
      expect(await statusOf(later)).toBe('pending');
      expect(held()).toBe(1);
      const stopped = r.stop();
      release();
      await stopped;
      // stop() returned after the signal under way finished and its event was completed.
      expect(await statusOf(first)).toBe('processed');
    } finally {
      release();
      await r.stop();
    }
    await relayUntilProcessed([later]);
    const recent = await temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_slow')).query(recentEventsQuery);
    expect(recent.map((e) => e.eventId)).toEqual([first, later]);
  });

  it('overlaps passes: while one waits on its analytics, the next takes other customers, never the same one', async () => {
    const other = 'ws_batches_other';
    await insertWorkspace(database.db, keyring, { id: other, name: other, webhookSecret: 'whsec_other' });
    const quantityOf = async (customer: string) => (await database.db('stripe_subscription_items').where({ workspace_id: ws, id: `si_${customer}` }).first<{ quantity: number }>('quantity'))?.quantity;
    // Holding the workspace's analytics lock keeps a pass with its customers in its recompute.
    let unlock = () => undefined as void;
    const held = new Promise<void>((resolve) => (unlock = resolve));
    let locked = () => undefined as void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const lock = database.db.transaction(async (trx) => {
      await trx.raw(`select pg_advisory_xact_lock(hashtext('analytics:' || ?))`, [ws]);
      locked();
      await held;
    });
    await isLocked;
    const first = await store('cus_overlap', 1, {}, 'customer.subscription.updated');
    const r = relay();
    r.start();
    try {
      // The first pass has mirrored its event and waits for the analytics.
      await eventually(() => quantityOf('cus_overlap'), (q) => q === 1);
      const second = await store('cus_overlap', 2, {}, 'customer.subscription.updated');
      const elsewhere = await store('cus_elsewhere', 1, {}, 'customer.subscription.updated', other);
      // A later pass goes through for another workspace's customer...
      await eventually(() => statusOf(elsewhere), (s) => s === 'processed');
      // ...but leaves the customer of the waiting pass alone: its later event is not even mirrored.
      expect(await statusOf(first)).toBe('pending');
      expect(await statusOf(second)).toBe('pending');
      expect(await quantityOf('cus_overlap')).toBe(1);
      unlock();
      await lock;
      await eventually(() => Promise.all([statusOf(first), statusOf(second)]), (st) => st.every((s) => s === 'processed'));
      expect(await quantityOf('cus_overlap')).toBe(2);
      const processed = await database.db('webhook_inbox').whereIn('event_id', [first, second]).orderBy('processed_at').select<{ event_id: string }[]>('event_id');
      expect(processed.map((p) => p.event_id)).toEqual([first, second]);
    } finally {
      unlock();
      await lock;
      await r.stop();
    }
  });

  it('gathers events under load: a pass starts gatherMs after the one before, unless that one was full or the inbox was quiet', async () => {
    const passes = async (metrics: ReturnType<typeof createMetrics>) => ({ count: await counted(metrics.relayPassEvents, '_count'), events: await counted(metrics.relayPassEvents, '_sum') });
    const times = (ids: string[]) =>
      database.db('webhook_inbox').whereIn('event_id', ids).select<{ received_at: Date; processed_at: Date | null }[]>('received_at', 'processed_at');

    // Events that arrive right after a pass wait for the next, which takes them all at once.
    const gathering = createMetrics();
    const r = relay({ metrics: gathering, gatherMs: 1500 });
    r.start();
    try {
      const first = await store('cus_gather_0', 1, {}, 'customer.subscription.updated');
      await eventually(() => statusOf(first), (s) => s === 'processed');
      const later: string[] = [];
      for (let i = 1; i <= 5; i++) later.push(await store(`cus_gather_${i}`, 1, {}, 'customer.subscription.updated'));
      await eventually(() => times(later), (rows) => rows.every((row) => row.processed_at !== null));
      expect(await passes(gathering)).toEqual({ count: 2, events: 6 });
      // The second pass began no sooner than 1.5 s after the first, which began no sooner than the first event arrived.
      const [firstRow] = await times([first]);
      for (const row of await times(later)) expect(row.processed_at!.getTime() - firstRow!.received_at.getTime()).toBeGreaterThanOrEqual(1490);
    } finally {
      await r.stop();
    }

    // A backlog goes pass after pass (each full), and a lone event after it goes at once:
    // with a minute between passes otherwise, neither would finish within the test.
    const backlog: string[] = [];
    for (let i = 0; i < 6; i++) backlog.push(await store(`cus_backlog_${i}`, 1, {}, 'customer.subscription.updated'));
    const draining = createMetrics();
    const slow = relay({ metrics: draining, gatherMs: 60_000, batchSize: 2 });
    slow.start();
    try {
      await eventually(() => times(backlog), (rows) => rows.every((row) => row.processed_at !== null));
      expect(await passes(draining)).toEqual({ count: 3, events: 6 });
      const lone = await store('cus_backlog_lone', 1, {}, 'customer.subscription.updated');
      await eventually(() => statusOf(lone), (s) => s === 'processed');
      expect(await passes(draining)).toEqual({ count: 4, events: 7 });
    } finally {
      await slow.stop();
    }
  });

  it('keeps passing while signals wait for a lane: Temporal falling behind holds back only the customers it owes', async () => {
    const { client, release, held } = gatedClient('cus_lane_slow');
    const slow = await store('cus_lane_slow', 1);
    // One lane, one customer per pass: each loud customer's pass ends with its signal waiting for the lane.
    const r = relay({ client, signalLanes: 1, batchSize: 1 });
    r.start();
    try {
      await eventually(() => Promise.resolve(held()), (h) => h === 1);
      const waiting = [await store('cus_lane_1', 1), await store('cus_lane_2', 1)];
      const quiet = await store('cus_lane_quiet', 1, {}, 'customer.subscription.updated');
      await eventually(() => statusOf(quiet), (st) => st === 'processed');
      for (const id of [slow, ...waiting]) expect(await statusOf(id)).toBe('pending');
      release();
      await eventually(() => Promise.all([slow, ...waiting].map(statusOf)), (st) => st.every((x) => x === 'processed'));
    } finally {
      release();
      await r.stop();
    }
  });

  it('leaves signals still waiting for a lane to the next relay when it stops', async () => {
    const { client, release, signalled } = gatedClient('cus_stop_slow');
    const slow = await store('cus_stop_slow', 1);
    const r = relay({ client, signalLanes: 1, batchSize: 1 });
    r.start();
    let queued: string | undefined;
    try {
      await eventually(() => Promise.resolve(signalled.length), (n) => n === 1);
      queued = await store('cus_stop_queued', 1);
      // Its pass is done once the quiet steps are (the mirror holds its state); its signal waits for the lane.
      await eventually(() => database.db('stripe_subscription_items').where({ workspace_id: ws, id: 'si_cus_stop_queued' }).first(), (row) => row !== undefined);
      const stopped = r.stop();
      release();
      await stopped;
    } finally {
      release();
      await r.stop();
    }
    expect(await statusOf(slow)).toBe('processed');
    expect(await statusOf(queued)).toBe('pending');
    expect(signalled).toEqual([customerWorkflowId(ws, 'cus_stop_slow')]);
    await relayUntilProcessed([queued]);
  });
});
