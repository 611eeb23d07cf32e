import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingInboxEvents } from '../../db/inbox';
import type { Knex } from '../../db/knex';
import { freshDatabase, planOf, statementsOf, type PlanNode } from '../helpers/db';

/*
 * The relay's read of the inbox must stay cheap however Postgres's statistics were
 * taken. Autovacuum analyzes the inbox when it has just drained (no event pending), so
 * the planner believes the pending set is empty; a plan that is fine for an empty queue
 * then meets thousands of pending events under load. A plan that walks every pending
 * event for each customer it reads made each read cost 100-280 ms, where the right one
 * costs a few.
 */

const ws = 'ws_plan';

/** Rows every node of a plan produced, over all its loops: what a plan that compares everything with everything inflates. */
const rowsProduced = (n: PlanNode): number => n['Actual Rows'] * n['Actual Loops'] + (n.Plans ?? []).reduce((sum, child) => sum + rowsProduced(child), 0);

/** Adds `count` events in turn for customers cus_0..cus_<customers - 1>, with the given status. */
async function addEvents(db: Knex, opts: { count: number; customers: number; status: 'pending' | 'processed'; prefix: string }) {
  await db.raw(
    `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, status, processed_at)
     select ?, ? || n, 'customer.subscription.updated', 'cus_' || (n % ?), 'sub_' || (n % ?), now(), false, json_build_object('pad', repeat('x', 1000)), ?, case when ? = 'pending' then null else now() end
       from generate_series(0, ? - 1) as n`,
    [ws, opts.prefix, opts.customers, opts.customers, opts.status, opts.status, opts.count],
  );
}

describe('inbox: the relay read stays cheap after statistics taken on an empty queue', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Plan' });
    // Statistics and the table's dead rows change only where a test says so: an
    // autovacuum or autoanalyze run between two reads (cleaning up after an earlier
    // test's update, or taking statistics halfway through a load) changed one read's
    // buffers and not the other's (7,062 against 14,630 in one full run).
    await database.db.raw('alter table webhook_inbox set (autovacuum_enabled = false)');
    // A busy inbox's history, all processed, and the statistics autovacuum takes once it drained.
    await addEvents(database.db, { count: 60_000, customers: 2_000, status: 'processed', prefix: 'evt_done_' });
    await database.db.raw('vacuum analyze webhook_inbox');
    // Then a load: 5,000 events pending for 1,000 customers.
    await addEvents(database.db, { count: 5_000, customers: 1_000, status: 'pending', prefix: 'evt_new_' });
  }, 120_000);
  afterAll(async () => {
    await database?.drop();
  });

  /** Reads a pass (250 heads): its events, and the buffers its statements touch and the rows their plans produce, all together. */
  async function readPass(): Promise<{ events: Awaited<ReturnType<typeof pendingInboxEvents>>; buffers: number; rows: number }> {
    const { result: events, statements } = await statementsOf(database.db, () => pendingInboxEvents(database.db, 250));
    let buffers = 0;
    let rows = 0;
    // The read's statements (the transaction around them has no plan).
    const reads = statements.filter((st) => /^\s*(select|with)\b/i.test(st.sql));
    expect(reads.length).toBeGreaterThan(0);
    for (const statement of reads) {
      const plan = await planOf(database.db, statement);
      buffers += plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
      rows += rowsProduced(plan);
    }
    return { events, buffers, rows };
  }

  it('reads a pass of 250 customers touching a few buffers per event, not the whole queue per customer', async () => {
    const { events, buffers } = await readPass();
    // 250 customers with 5 events each.
    expect(events.length).toBe(1250);
    expect(buffers).toBeGreaterThan(0);
    expect(buffers / events.length).toBeLessThan(20);
  });

  it('stays as cheap with statistics taken in the middle of the load', async () => {
    await database.db.raw('analyze webhook_inbox');
    const { events, buffers } = await readPass();
    expect(events.length).toBe(1250);
    expect(buffers / events.length).toBeLessThan(20);
  });

  it('holds back the customers Temporal could not take (1,000 of them) without comparing each pending event with each of them', async () => {
    // An outage's aftermath: 1,000 more customers with 20 pending events each, the first of which waits for a retry.
    await database.db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, next_attempt_at)
       select ?, 'evt_held_' || n, 'invoice.payment_failed', 'cus_held_' || (n % 1000), 'in_' || n, now(), false, json_build_object('pad', repeat('x', 1000)),
              case when n < 1000 then now() + interval '1 hour' else now() end
         from generate_series(0, 19999) as n`,
      [ws],
    );
    // They arrived before the events read so far (in arrival order among themselves).
    await database.db.raw(`update webhook_inbox set seq = seq - 1000000 where event_id like 'evt_held_%'`);
    const { events, rows } = await readPass();
    expect(events.length).toBe(1250);
    expect(events.filter((e) => e.customerId?.startsWith('cus_held_'))).toEqual([]);
    // 25,000 pending events: a plan comparing each with each held customer produces millions of rows.
    expect(rows).toBeLessThan(10 * 25_000);
  });

  it('costs the pass it reads, not the backlog behind it', async () => {
    const before = await readPass();
    // Ten times the pending events, all behind those read so far, for the same customers.
    await addEvents(database.db, { count: 45_000, customers: 1_000, status: 'pending', prefix: 'evt_later_' });
    const after = await readPass();
    expect(after.events.map((e) => e.eventId)).toEqual(before.events.map((e) => e.eventId));
    expect(after.buffers).toBeLessThan(before.buffers * 1.5);
  });
});
