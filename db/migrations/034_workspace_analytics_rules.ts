import type { Knex } from 'knex';

/**
 * Which version of the analytics rules (domain/mrr/rules-version.ts) a workspace's
 * stored analytics were last computed by: null for every workspace computed before
 * versions were kept, which the worker then recomputes once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.integer('analytics_rules').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.dropColumn('analytics_rules');
  });
}
