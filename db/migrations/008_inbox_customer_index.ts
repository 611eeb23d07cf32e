import type { Knex } from 'knex';

/**
 * The relay takes every pending event of the customers at the head of the inbox in
 * one pass (a backlog then costs one delivery per customer); this index finds a
 * customer's pending events without scanning the inbox.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index webhook_inbox_pending_customer on webhook_inbox (workspace_id, customer_id, seq) where status = 'pending'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index webhook_inbox_pending_customer`);
}
