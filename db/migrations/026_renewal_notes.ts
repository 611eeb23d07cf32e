import type { Knex } from 'knex';

/**
 * The renewal play's notes: one row per renewal of a long-term subscription it wrote
 * (or would have) about. Unique on the subscription and its renewal time, so a
 * renewal gets one note however many scans see it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('renewal_notes', (t) => {
    t.uuid('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.text('subscription_id').notNullable();
    t.timestamp('renews_at', { useTz: true }).notNullable().comment("the subscription's current_period_end when the note began");
    t.text('workflow_id').notNullable().unique();
    t.text('fold').nullable().comment('plain | save | upgrade, once drafted (domain/renewal.ts)');
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('workflow_started_at', { useTz: true }).nullable().comment('null until the scan has started its workflow');
    t.text('outcome').nullable().comment('null while open; see domain/renewal.ts RENEWAL_OUTCOMES');
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.unique(['workspace_id', 'subscription_id', 'renews_at']);
    t.index(['workspace_id', 'customer_id', 'started_at']);
  });
  await knex.raw('alter table renewal_notes add constraint renewal_notes_ended check ((outcome is null) = (ended_at is null))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('renewal_notes');
}
