import type { Knex } from 'knex';

/**
 * When an owner queued an event again (db/inbox.ts reapplySetAsideEvents): an event
 * set aside weeks ago and applied now waits since then, not since it arrived, for the
 * backlog's age and the relay's lag, which would otherwise report weeks and set off
 * alerts. Null for every event the ingress stores; a nullable column without a default
 * is added without rewriting the inbox.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox add column requeued_at timestamptz`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox drop column requeued_at`);
}
