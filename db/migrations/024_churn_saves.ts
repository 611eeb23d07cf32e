import type { Knex } from 'knex';

/**
 * The churn radar's saves: one row each time a customer's risk reached the
 * workspace's threshold and the play reached out (or would have). At most one is
 * open per customer, so radars of several workers never start two; the ended ones
 * hold the cooldown and the outcomes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('churn_saves', (t) => {
    t.uuid('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.text('workflow_id').notNullable().unique();
    t.integer('risk_score').notNullable();
    t.integer('threshold').notNullable();
    t.jsonb('reasons').notNullable().comment('the risk reasons when the save began (domain/churn-risk.ts)');
    t.text('intervention').nullable().comment('downgrade | success_call | credits, once drafted');
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('workflow_started_at', { useTz: true }).nullable().comment('null until the radar has started its workflow');
    t.text('outcome').nullable().comment('null while open; sent | discarded | expired | off | failed | no_longer_at_risk | churned');
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.index(['workspace_id', 'customer_id', 'started_at']);
  });
  await knex.raw('create unique index churn_saves_one_open on churn_saves (workspace_id, customer_id) where ended_at is null');
  await knex.raw("alter table churn_saves add constraint churn_saves_ended check ((outcome is null) = (ended_at is null))");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('churn_saves');
}
