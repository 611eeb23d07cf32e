import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeInboxEvents, insertInboxEvents, type InboxEventToStore } from '../../db/inbox';
import type { Knex } from '../../db/knex';
import { freshDatabase } from '../helpers/db';

/*
 * Every event is written twice: stored by the ingress, then marked done by the relay,
 * which makes a new version of its row. That second write should not carry the ~1 kB
 * payload to the WAL again (migration 012: room on the page for the new version).
 */

const ws = 'ws_wal';
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Knex;

beforeAll(async () => {
  database = await freshDatabase();
  db = database.db;
  await db('workspaces').insert({ id: ws, name: 'WAL' });
  await db.raw('create extension if not exists pg_walinspect');
});
afterAll(async () => {
  await database?.drop();
});

/** Stripe-sized events (a ~1.2 kB payload each). */
function events(prefix: string, count: number): InboxEventToStore[] {
  return Array.from({ length: count }, (_, i) => {
    const payload = { id: `${prefix}${i}`, object: 'event', type: 'invoice.payment_succeeded', data: { object: { id: `in_${i}`, customer: 'cus_1', lines: 'x'.repeat(1100) } } };
    return {
      event: { workspaceId: ws, eventId: `${prefix}${i}`, type: 'invoice.payment_succeeded', customerId: `cus_${i % 7}`, objectId: `in_${i}`, stripeCreated: new Date(), livemode: false, payload },
      payloadText: JSON.stringify(payload),
    };
  });
}

/** Bytes of WAL records that touched the inbox's heap (this database's, not another test's) since `from`. */
async function inboxHeapWal(from: string): Promise<number> {
  const { rows } = await db.raw<{ rows: { bytes: string }[] }>(
    `select coalesce(sum(record_length), 0) as bytes
       from pg_get_wal_records_info(?::pg_lsn, pg_current_wal_lsn())
      where resource_manager like 'Heap%'
        and block_ref like '% rel ' || (select dattablespace from pg_database where datname = current_database()) || '/'
                              || (select oid from pg_database where datname = current_database()) || '/'
                              || pg_relation_filenode('webhook_inbox') || ' %'`,
    [from],
  );
  return Number(rows[0]!.bytes);
}
const lsn = async () => (await db.raw<{ rows: { lsn: string }[] }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;

describe('the inbox on disk', () => {
  it("keeps a completed event's new row version on its page, and logs a fraction of the row for it", async () => {
    // After a checkpoint, the first change of each page logs the whole page: start from one.
    await db.raw('checkpoint');
    const beforeInsert = await lsn();
    await insertInboxEvents(db, events('evt_wal_', 60));
    const inserted = await inboxHeapWal(beforeInsert);
    const rows = await db('webhook_inbox').where({ workspace_id: ws }).select<{ seq: number; ctid: string }[]>('seq', db.raw('ctid::text as ctid'));
    const page = (ctid: string) => ctid.slice(1, ctid.indexOf(','));

    const beforeCompletion = await lsn();
    await completeInboxEvents(
      db,
      rows.map((r) => ({ seq: r.seq, status: 'processed' as const })),
    );
    const completed = await inboxHeapWal(beforeCompletion);
    const after = new Map((await db('webhook_inbox').where({ workspace_id: ws }).select<{ seq: number; ctid: string }[]>('seq', db.raw('ctid::text as ctid'))).map((r) => [r.seq, r.ctid]));
    expect(rows.filter((r) => page(after.get(r.seq)!) !== page(r.ctid))).toEqual([]);
    expect(inserted / rows.length).toBeGreaterThan(1100);
    expect(completed / rows.length).toBeLessThan(300);
  });
});
