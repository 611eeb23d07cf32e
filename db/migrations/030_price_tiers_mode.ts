import type { Knex } from 'knex';

/**
 * How a tiered price reads its tiers (`volume` or `graduated`): without it a tiered
 * plan's amount cannot be worked out, and the plays quote none. The mirror writes it
 * (and each tier's decimal amounts) from the next sync of the price on.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_prices', (t) => {
    t.text('tiers_mode').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_prices', (t) => {
    t.dropColumn('tiers_mode');
  });
}
