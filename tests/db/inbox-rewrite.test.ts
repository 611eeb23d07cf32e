import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completion, insertInboxEvents } from '../../db/inbox';
import { freshDatabase } from '../helpers/db';

/*
 * The relay rewrites each inbox row once it has delivered the event. A new version on
 * the row's own page is logged as the bytes that changed; one on another page is
 * logged whole, payload and all, and every ack's flush to disk carries it
 * (db/migrations/013_inbox_fillfactor.ts). Rows just under the size at which Postgres
 * starts compressing them (2,032 bytes) cost most, so those are the ones stored here:
 * random payloads of ~1.75 kB, which no compression would shrink either.
 */

const ws = 'ws_rewrite';
const EVENTS = 240;

describe('inbox: the relay rewrites a row on its own page', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Rewrite' });
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** Each of the round's rows' heap page, by seq. */
  async function pagesOf(seqs: number[]): Promise<Map<number, number>> {
    const { rows } = await database.db.raw<{ rows: { seq: number; page: number }[] }>(
      `select seq, (ctid::text::point)[0]::int as page from webhook_inbox where seq = any(?::bigint[])`,
      [seqs],
    );
    return new Map(rows.map((r) => [Number(r.seq), r.page]));
  }

  /**
   * Stores a burst as the ingress does (batches of three), then completes it as the relay
   * does (passes of 100, each in its own transaction), and reads from the WAL itself
   * (pg_walinspect) what the completions' transactions wrote, full-page images left out:
   * a checkpoint during the test (every DROP DATABASE of a parallel test file forces
   * one) changes how much is logged, not what a completion costs.
   */
  async function storeAndComplete(): Promise<{ seqs: number[]; pagesBefore: Map<number, number>; walBytes: number }> {
    const events = Array.from({ length: EVENTS }, (_, n) => {
      const payload = { id: `evt_rw_${n}`, object: 'event', data: { object: { id: `sub_rw_${n}`, note: randomBytes(875).toString('hex') } } };
      return {
        event: { workspaceId: ws, eventId: payload.id, type: 'customer.subscription.updated', customerId: `cus_rw_${n % 40}`, objectId: `sub_rw_${n}`, stripeCreated: new Date(), livemode: false, payload },
        payloadText: JSON.stringify(payload),
      };
    });
    for (let i = 0; i < events.length; i += 3) await insertInboxEvents(database.db, events.slice(i, i + 3));
    const { rows } = await database.db.raw<{ rows: { seq: number }[] }>(`select seq from webhook_inbox where workspace_id = ? order by seq`, [ws]);
    const seqs = rows.map((r) => Number(r.seq));
    expect(seqs).toHaveLength(EVENTS);
    const pagesBefore = await pagesOf(seqs);

    const lsn = async () => (await database.db.raw<{ rows: { lsn: string }[] }>('select pg_current_wal_flush_lsn()::text as lsn')).rows[0]!.lsn;
    const from = await lsn();
    const xids: string[] = [];
    for (let i = 0; i < seqs.length; i += 100) {
      const batch = seqs.slice(i, i + 100).map((seq) => ({ seq, status: 'processed' as const }));
      xids.push(
        await database.db.transaction(async (trx) => {
          // The transaction's id, as the WAL's records carry it (32 bits).
          const { rows: ids } = await trx.raw<{ rows: { xid: string }[] }>(`select (txid_current() % 4294967296)::text as xid`);
          await completion(trx, batch);
          return ids[0]!.xid;
        }),
      );
    }
    const to = await lsn();
    const { rows: wal } = await database.db.raw<{ rows: { bytes: string | null }[] }>(
      `select sum(record_length - fpi_length)::text as bytes from pg_get_wal_records_info(?::pg_lsn, ?::pg_lsn) where xid::text = any(?::text[])`,
      [from, to, xids],
    );
    return { seqs, pagesBefore, walBytes: Number(wal[0]!.bytes) };
  }

  it('completes every event of a burst in place, logging a fraction of its size', async () => {
    await database.db.raw('create extension if not exists pg_walinspect');
    const burst = await storeAndComplete();

    const processed = await database.db('webhook_inbox').whereIn('seq', burst.seqs).where({ status: 'processed' }).count<{ count: number | string }[]>('* as count');
    expect(Number(processed[0]!.count)).toBe(EVENTS);
    const after = await pagesOf(burst.seqs);
    expect([...burst.pagesBefore].filter(([seq, page]) => after.get(seq) !== page)).toEqual([]);
    // ~1.75 kB payloads: logged whole, a completion writes more than that per event; in place, ~0.3 kB.
    expect(burst.walBytes).toBeGreaterThan(0);
    expect(burst.walBytes / EVENTS).toBeLessThan(600);
  });
});
