import type { Knex } from 'knex';

/**
 * The webhook endpoint's summary (db/inbox.ts endpointActivity) read every retained
 * event of its workspace to count the last day's: 35 days of a busy account, a few GB,
 * on every view of the Webhooks page, pushing the relay's pages out of the cache.
 *
 * - A BRIN index on `received_at` finds the last day's block ranges: events arrive in
 *   time order and retention frees the oldest pages for the newest, so each range holds
 *   about one stretch of time (a range refilled after retention is read for as long as
 *   it holds recent events). A few pages of index; an insert at most widens one small
 *   summary in place (one per statement, its rows sharing one time, and none while its
 *   range is not summarised yet), where a B-tree on the column would take an entry per
 *   event. It reads every workspace's events of the window, not only the one asked for.
 * - A partial index of the events set aside as another account's or mode's, per
 *   workspace, counts those kept. The ingress's inserts (pending) and the relay's
 *   completions (processed) never match its predicate, so only set-aside events enter
 *   it. The prefix is domain/event-ownership.ts SET_ASIDE_PREFIX as of this migration.
 *
 * Built concurrently: a plain build would hold back the ingress while it reads the inbox.
 */
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  // A concurrent build that failed leaves an invalid index behind, which `if not exists` would keep.
  await knex.raw(`drop index concurrently if exists webhook_inbox_received_brin`);
  await knex.raw(`create index concurrently webhook_inbox_received_brin on webhook_inbox using brin (received_at)`);
  await knex.raw(`drop index concurrently if exists webhook_inbox_set_aside`);
  await knex.raw(`create index concurrently webhook_inbox_set_aside on webhook_inbox (workspace_id) where status = 'ignored' and starts_with(last_error, 'not applied: ')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists webhook_inbox_set_aside`);
  await knex.raw(`drop index concurrently if exists webhook_inbox_received_brin`);
}
