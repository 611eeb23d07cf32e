import type { Knex } from 'knex';

/**
 * Room on each inbox page for its events' completions. The relay marks every event
 * processed, which writes a new version of its row; on a full page that version goes
 * to another page and the whole row, payload and all (~1 kB for a Stripe event), goes
 * to the WAL a second time. With room on the same page Postgres logs only the bytes
 * that changed (the status and the times after the payload). Only pages filled from
 * now on get the room; the inbox's retention (INBOX_RETENTION_DAYS) bounds what the
 * emptier pages cost in disk.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox set (fillfactor = 50)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox reset (fillfactor)`);
}
