import type { Knex } from 'knex';

/**
 * People who sign in to the web UI: users (email sealed with the keyring plus a keyed
 * hash to find it, password as a scrypt hash with its salt and parameters), their
 * role in each workspace, and browser sessions (only a SHA-256 of the session token
 * is stored, so a copy of the table logs nobody in).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.text('id').primary();
    t.text('email').notNullable().comment('sealed (platform/crypto.ts), context user:<id>:email');
    t.text('email_hash').notNullable().comment('<keyId>.<hmac> of the normalised email (db/users.ts)');
    t.text('password_hash').notNullable().comment('scrypt output, base64');
    t.text('password_salt').notNullable().comment('random per user, base64');
    t.jsonb('password_params').notNullable().comment('scrypt N, r, p and key length used for this hash');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('password_changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // The hash names its key, so one email under two keys (mid-rotation) differs; the
  // application looks up under every key and creates users under a lock (db/users.ts).
  await knex.raw('create unique index users_email_hash_unique on users (email_hash)');
  await knex.raw(`alter table users add constraint users_email_sealed check (email like 'v1.%')`);

  await knex.schema.createTable('workspace_members', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('role').notNullable();
    t.text('added_by').notNullable();
    t.timestamp('added_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['workspace_id', 'user_id']);
    t.index(['user_id']);
  });
  await knex.raw(`alter table workspace_members add constraint workspace_members_role_check check (role in ('owner', 'finance', 'member', 'viewer'))`);

  await knex.schema.createTable('sessions', (t) => {
    t.text('id').primary().comment('public handle for logs and audit; not a credential');
    t.text('token_hash').notNullable().unique().comment('SHA-256 (hex) of the cookie value');
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('sessions');
  await knex.schema.dropTableIfExists('workspace_members');
  await knex.schema.dropTableIfExists('users');
}
