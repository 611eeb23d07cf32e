import type { Knex } from 'knex';

/**
 * Owners list a workspace's failing webhook events (delivery failed at least once,
 * still pending: db/inbox.ts failingInboxEvents); without an index of their own that
 * walks every pending event of the workspace, which after an outage is the whole
 * backlog. Few events ever fail, so the partial index stays small. Built concurrently:
 * a plain build would hold back the ingress's inserts for as long as it reads the inbox.
 */
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  // A concurrent build that failed leaves an invalid index behind, which `if not exists` would keep.
  await knex.raw(`drop index concurrently if exists webhook_inbox_failing`);
  await knex.raw(`create index concurrently webhook_inbox_failing on webhook_inbox (workspace_id, seq) where status = 'pending' and attempts > 0`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists webhook_inbox_failing`);
}
