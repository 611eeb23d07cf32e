import type { Knex } from 'knex';

/**
 * Customer email and name in the mirror become sealed values (platform/crypto.ts) with
 * a keyed email hash for lookups (db/customer-pii.ts). Plaintext already mirrored is
 * dropped rather than converted: a migration has no keyring, and the mirror is a copy
 * of Stripe that the next full sync refills, sealed. The checks make the database
 * refuse plaintext from any writer that forgets to seal.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stripe_customers', (t) => {
    t.text('email_hash').nullable();
    t.index(['workspace_id', 'email_hash']);
  });
  await knex.raw(`update stripe_customers set email = null where email is not null and email not like 'v1.%'`);
  await knex.raw(`update stripe_customers set name = null where name is not null and name not like 'v1.%'`);
  await knex.raw(`alter table stripe_customers add constraint stripe_customers_email_sealed check (email is null or email like 'v1.%')`);
  await knex.raw(`alter table stripe_customers add constraint stripe_customers_name_sealed check (name is null or name like 'v1.%')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table stripe_customers drop constraint stripe_customers_email_sealed, drop constraint stripe_customers_name_sealed');
  await knex.schema.alterTable('stripe_customers', (t) => {
    t.dropIndex(['workspace_id', 'email_hash']);
    t.dropColumn('email_hash');
  });
}
