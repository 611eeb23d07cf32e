import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completion, insertInboxEvents } from '../../db/inbox';
import { freshDatabase, planOf } from '../helpers/db';

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
  let round = 0;

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
   * does (passes of 100), each completion run under EXPLAIN to read what it wrote to the WAL.
   */
  async function storeAndComplete(): Promise<{ seqs: number[]; pagesBefore: Map<number, number>; walBytes: number; fullPageImages: number }> {
    round++;
    // No checkpoint between the inserts and the completions unless the cluster's own.
    await database.db.raw('checkpoint');
    const events = Array.from({ length: EVENTS }, (_, n) => {
      const payload = { id: `evt_rw_${round}_${n}`, object: 'event', data: { object: { id: `sub_rw_${n}`, note: randomBytes(875).toString('hex') } } };
      return {
        event: { workspaceId: ws, eventId: payload.id, type: 'customer.subscription.updated', customerId: `cus_rw_${n % 40}`, objectId: `sub_rw_${n}`, stripeCreated: new Date(), livemode: false, payload },
        payloadText: JSON.stringify(payload),
      };
    });
    for (let i = 0; i < events.length; i += 3) await insertInboxEvents(database.db, events.slice(i, i + 3));
    const { rows } = await database.db.raw<{ rows: { seq: number }[] }>(`select seq from webhook_inbox where event_id like ? order by seq`, [`evt_rw_${round}_%`]);
    const seqs = rows.map((r) => Number(r.seq));
    expect(seqs).toHaveLength(EVENTS);
    const pagesBefore = await pagesOf(seqs);
    let walBytes = 0;
    let fullPageImages = 0;
    for (let i = 0; i < seqs.length; i += 100) {
      const { sql, bindings } = completion(
        database.db,
        seqs.slice(i, i + 100).map((seq) => ({ seq, status: 'processed' as const })),
      ).toSQL().toNative();
      const plan = await planOf(database.db, { sql, bindings }, { wal: true });
      walBytes += plan['WAL Bytes'] ?? 0;
      fullPageImages += plan['WAL FPI'] ?? 0;
    }
    return { seqs, pagesBefore, walBytes, fullPageImages };
  }

  it('completes every event of a burst in place, logging a fraction of its size', async () => {
    // A checkpoint of the cluster's own (other test files share it) would add full-page images: measure again then.
    let burst = await storeAndComplete();
    for (let tries = 1; burst.fullPageImages > 0 && tries < 3; tries++) burst = await storeAndComplete();
    expect(burst.fullPageImages).toBe(0);

    const processed = await database.db('webhook_inbox').whereIn('seq', burst.seqs).where({ status: 'processed' }).count<{ count: number | string }[]>('* as count');
    expect(Number(processed[0]!.count)).toBe(EVENTS);
    const after = await pagesOf(burst.seqs);
    expect([...burst.pagesBefore].filter(([seq, page]) => after.get(seq) !== page)).toEqual([]);
    // ~1.75 kB payloads: logged whole, a completion writes more than that per event; in place, ~0.3 kB.
    expect(burst.walBytes / EVENTS).toBeLessThan(600);
  });
});
