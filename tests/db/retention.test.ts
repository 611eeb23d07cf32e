import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertInboxEvent, pruneInbox, reapplySetAsideEvents } from '../../db/inbox';
import type { Knex } from '../../db/knex';
import { createMetrics } from '../../platform/metrics';
import { customerActivity, pruneProductSignals, storeProductSignals } from '../../db/product-signals';
import { pruneSeatChanges } from '../../db/seat-changes';
import { SEAT_CHANGES_KEPT_DAYS, startInboxRetention, startProductSignalRetention, startSeatChangeRetention } from '../../workers/retention';
import { freshDatabase } from '../helpers/db';

const ws = 'ws_retention';
const DAY_MS = 86_400_000;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Knex;

beforeAll(async () => {
  database = await freshDatabase();
  db = database.db;
  await db('workspaces').insert({ id: ws, name: 'Retention' });
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await db('webhook_inbox').del();
});

/** Stores an event as the ingress does, then dates it and sets where the relay left it. */
async function event(id: string, daysAgo: number, status: 'pending' | 'processed' | 'ignored') {
  await insertInboxEvent(db, { workspaceId: ws, eventId: id, type: 'customer.subscription.updated', customerId: 'cus_1', objectId: 'sub_1', stripeCreated: new Date(), livemode: false, payload: { id } });
  const at = new Date(Date.now() - daysAgo * DAY_MS);
  await db('webhook_inbox')
    .where({ event_id: id })
    .update({ received_at: at, status, processed_at: status === 'pending' ? null : new Date(at.getTime() + 1000) });
}
const kept = async () => (await db('webhook_inbox').orderBy('seq').pluck('event_id')) as string[];

describe('inbox retention', () => {
  it('deletes finished events past the cutoff, in batches, and keeps pending and recent ones', async () => {
    for (let i = 0; i < 7; i++) await event(`evt_old_${i}`, 40 + i, i % 3 === 0 ? 'ignored' : 'processed');
    await event('evt_old_pending', 45, 'pending');
    await event('evt_recent', 10, 'processed');
    await event('evt_recent_pending', 1, 'pending');
    const totals: number[] = [];
    expect(
      await pruneInbox(db, new Date(Date.now() - 35 * DAY_MS), 3, (n) => {
        totals.push(n);
      }),
    ).toBe(7);
    expect(totals).toEqual([3, 6, 7]);
    expect(await kept()).toEqual(['evt_old_pending', 'evt_recent', 'evt_recent_pending']);
    // Nothing left to delete: a second run deletes nothing.
    expect(await pruneInbox(db, new Date(Date.now() - 35 * DAY_MS), 3)).toBe(0);
  });

  it('keeps a set-aside event an owner has queued again while the run waited for it', async () => {
    await event('evt_aside', 40, 'ignored');
    await db('webhook_inbox')
      .where({ event_id: 'evt_aside' })
      .update({ payload: JSON.stringify({ id: 'evt_aside', livemode: true }), last_error: 'not applied: the event is a live-mode event, and this workspace mirrors test-mode data' });
    await event('evt_done', 40, 'processed');
    // The owner's re-queue holds the event's row; the run chooses it meanwhile, then waits for the lock.
    const trx = await db.transaction();
    let run: Promise<number> | undefined;
    try {
      expect(await reapplySetAsideEvents(trx, ws, { stripeAccountId: null, livemode: true, hasStripeKey: true })).toEqual({ requeued: 1, stillSetAside: 0 });
      run = pruneInbox(db, new Date(Date.now() - 35 * DAY_MS), 10);
      // Committed only once the run's delete waits for the row.
      for (let waited = 0; ; waited += 20) {
        const { rows } = await db.raw<{ rows: { waiting: number }[] }>(`select count(*)::int as waiting from pg_stat_activity where wait_event_type = 'Lock' and query like 'delete from webhook_inbox%'`);
        if (rows[0]!.waiting > 0) break;
        if (waited > 10_000) throw new Error('the retention run never waited for the re-queued row');
        await new Promise((r) => setTimeout(r, 20));
      }
      await trx.commit();
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
    expect(await run).toBe(1);
    expect(await db('webhook_inbox').orderBy('seq').select('event_id', 'status')).toEqual([{ event_id: 'evt_aside', status: 'pending' }]);
  });

  it('ends a run early when told to after a batch, leaving the rest for the next', async () => {
    for (let i = 0; i < 5; i++) await event(`evt_stop_${i}`, 40, 'processed');
    expect(await pruneInbox(db, new Date(Date.now() - 35 * DAY_MS), 2, () => false)).toBe(2);
    expect(await kept()).toEqual(['evt_stop_2', 'evt_stop_3', 'evt_stop_4']);
    expect(await pruneInbox(db, new Date(Date.now() - 35 * DAY_MS), 2)).toBe(3);
  });

  it('does nothing on an empty inbox or when nothing is old enough', async () => {
    expect(await pruneInbox(db, new Date())).toBe(0);
    await event('evt_new', 0.5, 'processed');
    expect(await pruneInbox(db, new Date(Date.now() - DAY_MS))).toBe(0);
    expect(await kept()).toEqual(['evt_new']);
  });

  it('a deleted event id is stored again if Stripe sends it after the retention period', async () => {
    await event('evt_resent', 40, 'processed');
    await pruneInbox(db, new Date(Date.now() - 35 * DAY_MS));
    expect((await insertInboxEvent(db, { workspaceId: ws, eventId: 'evt_resent', type: 'customer.subscription.updated', customerId: 'cus_1', objectId: 'sub_1', stripeCreated: new Date(), livemode: false, payload: {} })).stored).toBe(true);
  });

  it('waits before its first run, and a stop meanwhile ends it without one', async () => {
    await event('evt_later', 50, 'processed');
    const early = startInboxRetention({ db, log: pino({ level: 'silent' }), retentionDays: 35, firstRunAfterMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    await early.stop();
    expect(await kept()).toEqual(['evt_later']);
    const soon = startInboxRetention({ db, log: pino({ level: 'silent' }), retentionDays: 35, firstRunAfterMs: 500 });
    try {
      expect(await kept()).toEqual(['evt_later']);
      await expect.poll(kept, { timeout: 5000 }).toEqual([]);
    } finally {
      await soon.stop();
    }
  });

  it('runs after its first delay and then periodically, counts what it deleted, logs it, and stops', async () => {
    await event('evt_a', 50, 'processed');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
    const metrics = createMetrics();
    const retention = startInboxRetention({ db, log, metrics, retentionDays: 35, firstRunAfterMs: 0, everyMs: 100 });
    try {
      await expect.poll(kept, { timeout: 5000 }).toEqual([]);
      // Between runs: an event that became old meanwhile goes at the next run.
      await event('evt_b', 60, 'ignored');
      await expect.poll(kept, { timeout: 5000 }).toEqual([]);
      await expect.poll(async () => (await metrics.inboxPruned.get()).values[0]?.value, { timeout: 5000 }).toBe(2);
    } finally {
      await retention.stop();
    }
    const deleted = lines.map((l) => JSON.parse(l) as { msg: string; pruned: number }).filter((l) => l.msg.includes('deleted finished events'));
    expect(deleted.map((l) => l.pruned)).toEqual([1, 1]);
    // Stopped: an old event stays.
    await event('evt_c', 60, 'processed');
    await new Promise((r) => setTimeout(r, 300));
    expect(await kept()).toEqual(['evt_c']);
  });
});

describe('product signal retention', () => {
  const signal = (id: string, daysAgo: number) => ({ type: 'login' as const, id, customerId: 'cus_1', at: new Date(Date.now() - daysAgo * DAY_MS) });
  const signalIds = async () => (await db('product_signals').orderBy('signal_id').pluck('signal_id')) as string[];

  it('deletes signals that happened before the cutoff, in batches, and keeps the rest', async () => {
    await db('product_signals').del();
    await storeProductSignals(db, ws, [...Array.from({ length: 5 }, (_, i) => signal(`old_${i}`, 500 + i)), signal('recent', 10), signal('at_edge', 399)]);
    const totals: number[] = [];
    expect(await pruneProductSignals(db, new Date(Date.now() - 400 * DAY_MS), 2, (n) => void totals.push(n))).toBe(5);
    expect(totals).toEqual([2, 4, 5]);
    expect(await signalIds()).toEqual(['at_edge', 'recent']);
  });

  it("keeps a customer's newest signal of each kind however old, which their last login is read from", async () => {
    await db('product_signals').del();
    const gone = (id: string, daysAgo: number, type: 'login' | 'ticket' = 'login') =>
      type === 'login' ? { type, id, customerId: 'cus_gone', at: new Date(Date.now() - daysAgo * DAY_MS) } : { type, id, customerId: 'cus_gone', at: new Date(Date.now() - daysAgo * DAY_MS), ticket: 'T-1', status: 'opened' as const };
    await storeProductSignals(db, ws, [gone('login_older', 600), gone('login_last', 500), gone('ticket_last', 450, 'ticket')]);
    expect(await pruneProductSignals(db, new Date(Date.now() - 400 * DAY_MS))).toBe(1);
    expect((await db('product_signals').where({ customer_id: 'cus_gone' }).orderBy('signal_id').pluck('signal_id')) as string[]).toEqual(['login_last', 'ticket_last']);
    const activity = await customerActivity(db, ws, 'cus_gone', new Date());
    expect(Math.round((Date.now() - Date.parse(activity.logins.lastAt!)) / DAY_MS)).toBe(500);
  });

  it('runs in the worker on its schedule', async () => {
    await db('product_signals').del();
    await storeProductSignals(db, ws, [signal('old', 500), signal('recent', 1)]);
    const metrics = createMetrics();
    const retention = startProductSignalRetention({ db, log: pino({ level: 'silent' }), metrics, retentionDays: 400, firstRunAfterMs: 0, everyMs: 100 });
    try {
      await expect.poll(signalIds, { timeout: 5000 }).toEqual(['recent']);
      await expect.poll(async () => (await metrics.productSignalsPruned.get()).values[0]?.value, { timeout: 5000 }).toBe(1);
    } finally {
      await retention.stop();
    }
  });
});

describe('seat change retention', () => {
  const change = (id: number, daysAgo: number) => ({ workspace_id: ws, subscription_id: 'sub_1', item_id: `si_${id}`, from_quantity: 1, to_quantity: 2, at: new Date(Date.now() - daysAgo * DAY_MS) });
  const items = async () => (await db('seat_changes').orderBy('item_id').pluck('item_id')) as string[];

  it('deletes seat changes older than the longest window the expansion play reads, in batches', async () => {
    await db('seat_changes').del();
    await db('seat_changes').insert([change(1, 200), change(2, 150), change(3, SEAT_CHANGES_KEPT_DAYS + 1), change(4, 89), change(5, 1)]);
    const totals: number[] = [];
    expect(await pruneSeatChanges(db, new Date(Date.now() - SEAT_CHANGES_KEPT_DAYS * DAY_MS), 2, (n) => void totals.push(n))).toBe(3);
    expect(totals).toEqual([2, 3]);
    expect(await items()).toEqual(['si_4', 'si_5']);
  });

  it('runs in the worker on its schedule, keeping what a 90-day window reads', async () => {
    await db('seat_changes').del();
    await db('seat_changes').insert([change(1, 400), change(2, 90)]);
    const retention = startSeatChangeRetention({ db, log: pino({ level: 'silent' }), firstRunAfterMs: 0, everyMs: 100 });
    try {
      await expect.poll(items, { timeout: 5000 }).toEqual(['si_2']);
    } finally {
      await retention.stop();
    }
  });
});
