import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { completeInboxEvents, deferInboxEvent, failingInboxPage, ignoreFailingInboxEvent, inboxBacklog, pendingInboxEvents, retryFailingInboxEvent } from '../../db/inbox';
import { freshDatabase, planOf, statementsOf, type PlanNode } from '../helpers/db';

/*
 * The inbox's side of failing events: what an owner's retry and give-up change, what
 * the relay does with an event given up on while its retry was under way, and that the
 * owners' listing reads the few failing events, not the backlog around them.
 */

const ws = 'ws_inbox_failing';

describe('inbox: failing events', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Failing' });
  });
  beforeEach(async () => {
    await database.db('webhook_inbox').delete();
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** Adds `count` pending events, one customer each; returns their seqs. */
  async function addEvents(count: number, prefix: string): Promise<number[]> {
    const { rows } = await database.db.raw<{ rows: { seq: number }[] }>(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload)
       select ?, ? || n, 'customer.subscription.updated', ? || n, 'sub_1', now(), false, '{}'::json
         from generate_series(1, ?) as n
       returning seq`,
      [ws, `evt_${prefix}_`, `cus_${prefix}_`, count],
    );
    return rows.map((r) => r.seq);
  }

  const rowOf = (seq: number) => database.db('webhook_inbox').where({ seq }).first<{ status: string; attempts: number; next_attempt_at: Date; last_error: string | null }>();

  it('reads the backlog for the gauges: pending and the oldest over every workspace, failing events by workspace', async () => {
    expect(await inboxBacklog(database.db)).toEqual({ pending: 0, oldestPendingSeconds: 0, failingByWorkspace: new Map() });
    const other = 'ws_inbox_failing_other';
    await database.db('workspaces').insert({ id: other, name: 'Other' }).onConflict('id').ignore();
    const [oldest, failing, done] = await addEvents(3, 'here');
    await database.db('webhook_inbox').where({ seq: oldest }).update({ received_at: database.db.raw(`now() - interval '1 hour'`) });
    await deferInboxEvent(database.db, failing!, 'mirror refused it', 60_000);
    await completeInboxEvents(database.db, [{ seq: done!, status: 'processed' }]);
    await database.db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, attempts, last_error)
       select ?, 'evt_there_' || n, 'customer.subscription.updated', 'cus_there_' || n, 'sub_1', now(), false, '{}'::json, 2, 'no such price'
         from generate_series(1, 2) as n`,
      [other],
    );
    // A failing event given up on is no longer pending, and counts nowhere.
    await database.db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, attempts, status)
       values (?, 'evt_there_ignored', 'customer.subscription.updated', 'cus_there_x', 'sub_1', now(), false, '{}'::json, 3, 'ignored')`,
      [other],
    );

    const backlog = await inboxBacklog(database.db);
    expect(backlog.pending).toBe(4);
    expect(backlog.oldestPendingSeconds).toBeGreaterThanOrEqual(3600);
    expect(backlog.oldestPendingSeconds).toBeLessThan(3700);
    expect([...backlog.failingByWorkspace]).toEqual([
      [ws, 1],
      [other, 2],
    ]);
  });

  it('retries a failing event now, and refuses one that is not failing or not there', async () => {
    const [seq] = await addEvents(1, 'retry');
    expect(await retryFailingInboxEvent(database.db, ws, 'evt_retry_1')).toBe('not_failing');
    await deferInboxEvent(database.db, seq!, 'mirror refused it', 3_600_000);
    const later = (await rowOf(seq!)).next_attempt_at;

    const retried = await retryFailingInboxEvent(database.db, ws, 'evt_retry_1');
    expect(retried).toMatchObject({ eventId: 'evt_retry_1', attempts: 1, lastError: 'mirror refused it' });
    const row = (await rowOf(seq!));
    expect(row.next_attempt_at.getTime()).toBeLessThan(later.getTime() - 3_000_000);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: 'mirror refused it' });
    // Due again: the relay's next read takes it.
    expect((await pendingInboxEvents(database.db, 10)).map((e) => e.seq)).toEqual([seq]);

    expect(await retryFailingInboxEvent(database.db, ws, 'evt_nowhere')).toBe('missing');
    expect(await retryFailingInboxEvent(database.db, 'ws_other', 'evt_retry_1')).toBe('missing');
  });

  it('marks an event processed when the retry under way as an owner gave up on it succeeds', async () => {
    const [seq] = await addEvents(1, 'race');
    await deferInboxEvent(database.db, seq!, 'Temporal unavailable', 0);
    // The relay reads it for its retry ...
    expect((await pendingInboxEvents(database.db, 10)).map((e) => e.seq)).toEqual([seq]);
    // ... an owner gives up on it meanwhile ...
    expect(await ignoreFailingInboxEvent(database.db, ws, 'evt_race_1')).toMatchObject({ eventId: 'evt_race_1' });
    expect((await rowOf(seq!)).status).toBe('ignored');
    // ... and the retry goes through: the event was applied, and says so.
    await completeInboxEvents(database.db, [{ seq: seq!, status: 'processed' }]);
    expect(await rowOf(seq!)).toMatchObject({ status: 'processed', last_error: null });
  });

  it('leaves a given-up event ignored when the retry under way fails again', async () => {
    const [seq] = await addEvents(1, 'fails');
    await deferInboxEvent(database.db, seq!, 'first failure', 0);
    await ignoreFailingInboxEvent(database.db, ws, 'evt_fails_1');
    await deferInboxEvent(database.db, seq!, 'second failure', 0);
    expect(await rowOf(seq!)).toMatchObject({ status: 'ignored', attempts: 1, last_error: 'first failure' });
  });

  it('lists failing events from their own index, not by walking the pending backlog', async () => {
    const seqs = await addEvents(20_000, 'backlog');
    for (const seq of [seqs[10]!, seqs[15_000]!]) await deferInboxEvent(database.db, seq, 'failed', 60_000);
    await database.db.raw('analyze webhook_inbox');
    // The route's read: a page and the count, in one snapshot.
    const { result: page, statements } = await statementsOf(database.db, () => failingInboxPage(database.db, ws, { limit: 100 }));
    expect(page.events.map((e) => e.seq)).toEqual([seqs[10], seqs[15_000]]);
    expect(page.total).toBe(2);

    // Its own statements, as they were sent (the transaction around them has no plan).
    const reads = statements.filter((st) => /^\s*select\b/i.test(st.sql));
    expect(reads).toHaveLength(2);
    for (const statement of reads) {
      const plan = await planOf(database.db, statement);
      expect(indexesOf(plan)).toEqual(['webhook_inbox_failing']);
      // A handful of pages, where the pending backlog behind it fills hundreds.
      expect(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']).toBeLessThan(20);
    }
  });
});

const indexesOf = (node: PlanNode): string[] => [...(node['Index Name'] ? [node['Index Name']] : []), ...(node.Plans ?? []).flatMap(indexesOf)];
