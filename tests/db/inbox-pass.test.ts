import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pendingInboxEvents, pendingInboxPass } from '../../db/inbox';
import { walkBackoffMs } from '../../domain/relay-pass';
import { freshDatabase } from '../helpers/db';

/*
 * How far the relay's read walks the inbox: it looks at a bounded stretch past the
 * first event it takes, yet never lets a backlog it cannot take (a customer held back
 * by a retry, or busy) starve the customers behind it.
 */

const ws = 'ws_pass';

describe('inbox: the extent of a relay pass', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Pass' });
  });
  beforeEach(async () => {
    await database.db('webhook_inbox').delete();
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** Adds `count` events for `customer` in arrival order; the first waits an hour for its retry when `held`. */
  async function addEvents(customer: string, count: number, held = false, prefix = `evt_${customer}_`) {
    await database.db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, attempts, next_attempt_at)
       select ?, ? || n, 'customer.subscription.updated', ?, 'sub_1', now(), false, '{}'::json,
              case when n = 0 and ? then 1 else 0 end, case when n = 0 and ? then now() + interval '1 hour' else now() end
         from generate_series(0, ? - 1) as n`,
      [ws, prefix, customer, held, held, count],
    );
  }

  it('finds the customers behind a held-back backlog longer than its walk', async () => {
    await addEvents('cus_held', 500, true);
    await addEvents('cus_next', 3);
    const events = await pendingInboxEvents(database.db, 10, 50, [], 100);
    expect(events.map((e) => e.eventId)).toEqual(['evt_cus_next_0', 'evt_cus_next_1', 'evt_cus_next_2']);
  });

  it('finds the customers behind a busy customer’s backlog longer than its walk', async () => {
    await addEvents('cus_busy', 500);
    await addEvents('cus_next', 2);
    const events = await pendingInboxEvents(database.db, 10, 50, [`${ws}/cus_busy`], 100);
    expect(events.map((e) => e.eventId)).toEqual(['evt_cus_next_0', 'evt_cus_next_1']);
  });

  it('leaves a taken customer’s events past its walk for a later pass, keeping each customer’s prefix', async () => {
    await addEvents('cus_a', 1);
    await addEvents('cus_other', 300);
    await addEvents('cus_a', 1, false, 'evt_cus_a_later_');
    // cus_a's second event is 300 events past its first: beyond a walk of 100.
    const events = await pendingInboxEvents(database.db, 10, 20, ['ws_pass/cus_other'], 100);
    expect(events.map((e) => e.eventId)).toEqual(['evt_cus_a_0']);
    // With a longer walk, the same pass takes both.
    const further = await pendingInboxEvents(database.db, 10, 20, ['ws_pass/cus_other'], 1_000);
    expect(further.map((e) => e.eventId)).toEqual(['evt_cus_a_0', 'evt_cus_a_later_0']);
  });

  it("says which events are due on the database's clock, not the reader's", async () => {
    await addEvents('cus_due', 3);
    // The second waits for its retry on the database's clock: a minute from its now().
    await database.db.raw(`update webhook_inbox set next_attempt_at = now() + interval '1 minute' where event_id = 'evt_cus_due_1'`);
    const events = await pendingInboxEvents(database.db, 10);
    expect(events.map((e) => [e.eventId, e.due])).toEqual([
      ['evt_cus_due_0', true],
      ['evt_cus_due_1', false],
      ['evt_cus_due_2', true],
    ]);
  });

  it('tells the relay what its walk could not take: held-back and busy customers, not the customers a catch-up leaves for later', async () => {
    // A backlog of customers that can all go: the pass has its heads long before the
    // walk ends, and nothing it passed over was blocked.
    for (let round = 0; round < 10; round++) for (let c = 0; c < 30; c++) await addEvents(`cus_due${c}`, 1, false, `evt_due${c}_${round}_`);
    const catchUp = await pendingInboxPass(database.db, 10, 50, [], 1_000);
    expect(catchUp.events).toHaveLength(50);
    expect(catchUp.walked).toBeGreaterThan(50);
    expect(catchUp.blocked).toBe(0);
    // So the relay reads the next pass at once, however far this walk went.
    expect(walkBackoffMs(100, catchUp.walked, catchUp.blocked, 50)).toBe(0);

    // The same behind a held-back customer and a busy one: their events count.
    await database.db('webhook_inbox').delete();
    await addEvents('cus_held', 40, true);
    await addEvents('cus_busy', 30);
    await addEvents('cus_next', 5);
    const behind = await pendingInboxPass(database.db, 10, 50, [`${ws}/cus_busy`], 1_000);
    expect(behind.events.map((e) => e.eventId)).toEqual(['evt_cus_next_0', 'evt_cus_next_1', 'evt_cus_next_2', 'evt_cus_next_3', 'evt_cus_next_4']);
    expect(behind).toMatchObject({ walked: 75, blocked: 70 });
    expect(walkBackoffMs(100, behind.walked, behind.blocked, 50)).toBeGreaterThan(0);
  });
});
