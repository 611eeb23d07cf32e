import type { Knex } from 'knex';

/**
 * The relay rewrites every inbox row once (completeInboxEvents: status, processed_at),
 * and a failing one at each retry. When the new version lands on another page,
 * Postgres logs the whole row, payload and all: with pages filled to the brim by the
 * ingress's inserts, completing an event wrote about as much WAL as storing it (1.9 kB
 * an event with 1.45 kB payloads), and every ack's flush to disk carries that WAL too.
 * Pages half filled by inserts leave room for each of their rows to be rewritten once
 * in place, and an update within a page is logged as the bytes that changed (~0.3 kB
 * an event: tests/db/inbox-rewrite.test.ts), unless it is the page's first change
 * since a checkpoint (a full-page image then) or wal_level is logical. Rows over ~2 kB
 * are compressed or moved to TOAST first; a compressed payload kept in the row is
 * still small enough to fit. The table takes more pages while its rows are pending
 * (after completion a page is full either way). Only pages written from now on are
 * affected; the setting takes a SHARE UPDATE EXCLUSIVE lock, which holds back neither
 * the ingress's inserts nor the relay's updates.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox set (fillfactor = 50)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox reset (fillfactor)`);
}
