import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deferInboxEvent, ignoreFailingInboxEvent, insertInboxEvents, pendingInboxEvents, type InboxEventToStore } from '../../db/inbox';
import type { Knex } from '../../db/knex';
import { freshDatabase } from '../helpers/db';

/*
 * The relay reads committed events in seq order. Two inserts running at once must not
 * commit a customer's later seq while its earlier one is still uncommitted: a read
 * between the two commits would deliver that customer's events out of their order.
 */

const ws = 'ws_order';

function event(eventId: string, customerId: string | null): InboxEventToStore {
  const payload = { id: eventId, type: 'customer.subscription.updated' };
  return {
    event: { workspaceId: ws, eventId, type: payload.type, customerId, objectId: 'sub_1', stripeCreated: new Date(), livemode: false, payload },
    payloadText: JSON.stringify(payload),
  };
}

describe("inbox: a customer's events commit in their seq order", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Order' });
  });
  beforeEach(async () => {
    await database.db('webhook_inbox').delete();
  });
  afterAll(async () => {
    await database?.drop();
  });

  /**
   * Settles with 'waiting' once a statement in this test's database is seen waiting for
   * an advisory lock, or with 'done' when `work` finishes first.
   */
  async function waitsOrFinishes(work: Promise<unknown>): Promise<'waiting' | 'done'> {
    let finished = false;
    const done = work.then(() => {
      finished = true;
      return 'done' as const;
    });
    const waiting = (async () => {
      while (!finished) {
        const { rows } = await database.db.raw<{ rows: unknown[] }>(
          `select 1 from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`,
        );
        if (rows.length > 0) return 'waiting' as const;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return 'done' as const;
    })();
    return Promise.race([done, waiting]);
  }

  /** Runs `work` in a transaction left open until `release` is called; resolves once `work` has run. */
  async function openTransaction(work: (trx: Knex.Transaction) => Promise<unknown>): Promise<{ release: () => Promise<void> }> {
    const trx = await database.db.transaction();
    await work(trx);
    return {
      release: async () => {
        await trx.commit();
      },
    };
  }

  it("holds an insert of a customer's later event until its earlier one has committed", async () => {
    const earlier = await openTransaction((trx) => insertInboxEvents(trx, [event('evt_earlier', 'cus_a')]));
    const later = insertInboxEvents(database.db, [event('evt_later', 'cus_a')]);
    // Other customers, and events without one, are not held back.
    expect(await insertInboxEvents(database.db, [event('evt_other', 'cus_b'), event('evt_none', null)])).toEqual([true, true]);

    expect(await waitsOrFinishes(later)).toBe('waiting');
    const meanwhile = await pendingInboxEvents(database.db, 10);
    expect(meanwhile.map((e) => e.eventId)).toEqual(['evt_other', 'evt_none']);

    await earlier.release();
    expect(await later).toEqual([true]);
    const events = await pendingInboxEvents(database.db, 10);
    const ofA = events.filter((e) => e.customerId === 'cus_a');
    expect(ofA.map((e) => e.eventId)).toEqual(['evt_earlier', 'evt_later']);
    expect(ofA[0]!.seq).toBeLessThan(ofA[1]!.seq);
  });

  it("holds a given-up event's re-read until the customer's insert under way has committed", async () => {
    await insertInboxEvents(database.db, [event('evt_failing', 'cus_a')]);
    const [failing] = await pendingInboxEvents(database.db, 10);
    await deferInboxEvent(database.db, failing!.seq, 'Stripe is down', 60_000);

    const arriving = await openTransaction((trx) => insertInboxEvents(trx, [event('evt_arriving', 'cus_a')]));
    const givenUp = ignoreFailingInboxEvent(database.db, ws, 'evt_failing');
    expect(await waitsOrFinishes(givenUp)).toBe('waiting');
    expect(await pendingInboxEvents(database.db, 10)).toEqual([]);

    await arriving.release();
    const result = await givenUp;
    expect(typeof result === 'string' ? result : result.rereadEventId).toBe('reread_evt_failing');
    const events = await pendingInboxEvents(database.db, 10);
    expect(events.map((e) => e.eventId)).toEqual(['evt_arriving', 'reread_evt_failing']);
  });
});
