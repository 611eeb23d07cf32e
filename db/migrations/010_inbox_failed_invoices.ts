import type { Knex } from 'knex';

/**
 * The relay signals an invoice's payment to the plays only when the inbox has seen a
 * failed payment of that invoice (domain/play-routing.ts); this small partial index
 * answers that per event without scanning the inbox.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index webhook_inbox_failed_invoices on webhook_inbox (workspace_id, object_id) where type = 'invoice.payment_failed'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index webhook_inbox_failed_invoices`);
}
