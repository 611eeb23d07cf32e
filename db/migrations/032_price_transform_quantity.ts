import type { Knex } from 'knex';

/**
 * A price's package pricing (Stripe's `transform_quantity`, `{ divide_by, round }`):
 * Stripe bills the quantity divided and rounded, so without it a price of $20 per 10
 * seats reads as $20 a seat. Null is none: Stripe sends the key on every price (null
 * when unset), so the mirror writes it from the next sync of the price on; a price
 * stored before then reads as having none until that sync.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_prices', (t) => {
    t.jsonb('transform_quantity').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_prices', (t) => {
    t.dropColumn('transform_quantity');
  });
}
