import type { Knex } from 'knex';

/**
 * When the provider last refused the workspace's sender for a send now waiting to be
 * retried (a revoked key, an unverified from-address): the one-email plays then hold
 * the draft rather than fail it, and the Emails page tells the owner what to put right.
 * Cleared when the send is tried again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sends', (t) => {
    t.timestamp('sender_refused_at', { useTz: true }).nullable();
  });
  // The Emails page reads a workspace's held sends at each load; few rows ever match.
  await knex.raw(`create index sends_sender_refused on sends (workspace_id) where sender_refused_at is not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sends', (t) => {
    t.dropColumn('sender_refused_at');
  });
}
