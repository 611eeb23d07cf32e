import type { Knex } from 'knex';

/**
 * The webhook endpoint's summary reads a workspace's latest audit entry of one action
 * (when its signing secret was last replaced); with only (workspace_id, at) to go by,
 * Postgres would walk the workspace's whole append-only log to find none. Built
 * concurrently: a plain build would hold back every audited write while it reads the log.
 */
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  // A concurrent build that failed leaves an invalid index behind, which `if not exists` would keep.
  await knex.raw(`drop index concurrently if exists audit_log_workspace_action`);
  await knex.raw(`create index concurrently audit_log_workspace_action on audit_log (workspace_id, action, id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists audit_log_workspace_action`);
}
