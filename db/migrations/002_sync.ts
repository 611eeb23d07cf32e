import type { Knex } from 'knex';

/**
 * History sync and product mapping: one row per sync run, its progress per Stripe
 * resource (the committed cursor lets a killed sync resume from its last page), and
 * the product-mapping overrides a workspace sets on top of the derived defaults.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sync_runs', (t) => {
    t.text('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('workflow_id').notNullable();
    t.text('mode').notNullable().comment('full | since');
    t.timestamp('window_start', { useTz: true }).nullable().comment('objects created before this are not fetched (history window or since)');
    t.text('status').notNullable().defaultTo('running');
    t.text('requested_by').notNullable();
    t.text('error').nullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.index(['workspace_id', 'started_at']);
  });
  await knex.raw(`alter table sync_runs add constraint sync_runs_mode_check check (mode in ('full', 'since'))`);
  await knex.raw(`alter table sync_runs add constraint sync_runs_status_check check (status in ('running', 'completed', 'failed'))`);
  // At most one running sync per workspace: a second request is refused, not queued.
  await knex.raw(`create unique index sync_runs_one_running on sync_runs (workspace_id) where status = 'running'`);

  await knex.schema.createTable('sync_progress', (t) => {
    t.text('run_id').notNullable().references('id').inTable('sync_runs').onDelete('CASCADE');
    t.text('resource').notNullable();
    t.integer('objects').notNullable().defaultTo(0);
    t.integer('pages').notNullable().defaultTo(0);
    t.text('cursor').nullable().comment('starting_after of the next page; committed with the page it follows');
    t.timestamp('oldest_created', { useTz: true }).nullable().comment('created time of the last object stored: lists run newest first, so this measures how far back we are');
    t.boolean('done').notNullable().defaultTo(false);
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['run_id', 'resource']);
  });

  await knex.schema.createTable('product_mapping_overrides', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('product_id').notNullable();
    t.text('plan_name').notNullable();
    t.integer('tier_rank').notNullable();
    t.jsonb('limits').notNullable().defaultTo('{}').comment('metric -> included amount; null means unlimited');
    t.text('updated_by').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['workspace_id', 'product_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('product_mapping_overrides');
  await knex.schema.dropTableIfExists('sync_progress');
  await knex.schema.dropTableIfExists('sync_runs');
}
