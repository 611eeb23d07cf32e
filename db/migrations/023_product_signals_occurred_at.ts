import type { Knex } from 'knex';

/** The signals' retention deletes the oldest across workspaces: an index on when each happened. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index if not exists product_signals_occurred_at_index on product_signals (occurred_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists product_signals_occurred_at_index');
}
