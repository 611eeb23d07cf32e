import type { Knex } from 'knex';

/**
 * One open renewal note per customer, as each other play keeps one open email per
 * customer: a customer with two subscriptions renewing in the same weeks gets the
 * second note after the first has ended.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create unique index renewal_notes_one_open on renewal_notes (workspace_id, customer_id) where ended_at is null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists renewal_notes_one_open');
}
