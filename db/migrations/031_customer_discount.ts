import type { Knex } from 'knex';

/**
 * A customer's own discount (Stripe's `customer.discount`), with its coupon's terms
 * as a subscription's are kept: a subscription without discounts of its own is billed
 * with it, so a renewal quote that left it out would quote the list price.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_customers', (t) => {
    t.jsonb('discount').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_customers', (t) => {
    t.dropColumn('discount');
  });
}
