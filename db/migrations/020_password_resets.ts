import type { Knex } from 'knex';

/**
 * Password resets by email: one row per link sent, holding only the SHA-256 of its
 * token (as sessions hold theirs), when it expires and when it was used. A link works
 * once and until it expires; asking for a new one retires the ones before it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('password_resets', (t) => {
    t.text('id').primary().comment('public handle for logs and audit; not a credential');
    t.text('token_hash').notNullable().unique().comment('SHA-256 (hex) of the token in the emailed link');
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable().comment('set when the link set a password, or when a newer link retired it');
    t.index(['user_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('password_resets');
}
