import type { Knex } from 'knex';

/**
 * A subscription item's own discounts (Stripe's `items.data.discounts`: ids, or the
 * discounts themselves where expanded). A renewal quote that left them out would quote
 * the item at list price as if that were what the customer pays. Null for items
 * stored before this migration: not known until the subscription's next event or sync.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_subscription_items', (t) => {
    t.jsonb('discounts').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_subscription_items', (t) => {
    t.dropColumn('discounts');
  });
}
