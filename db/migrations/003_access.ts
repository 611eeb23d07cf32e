import type { Knex } from 'knex';

/**
 * API tokens for integrations (stored as SHA-256 hashes of their secret part, each
 * scoped to one workspace and one role, revocable) and the audit log's hash chain.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.text('id').primary().comment('public part of the token: wys_<id>_<secret>');
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('role').notNullable();
    t.text('name').notNullable();
    t.text('secret_hash').notNullable();
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.index(['workspace_id']);
  });

  await knex.raw(`alter table api_tokens add constraint api_tokens_role_check check (role in ('owner', 'finance', 'member', 'viewer'))`);

  // Hash chain over the audit log: each row's hash covers its content and the hash
  // of the workspace's previous row, so any later change or removal is detectable.
  await knex.schema.alterTable('audit_log', (t) => {
    t.text('prev_hash').nullable();
    t.text('hash').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropColumn('prev_hash');
    t.dropColumn('hash');
  });
  await knex.schema.dropTableIfExists('api_tokens');
}
