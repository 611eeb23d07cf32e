import type { Knex } from 'knex';

// Column lists written out (not imported from domain/) so this migration never changes.
const MONTH_FIELDS = [
  'new_mrr', 'expansion_mrr', 'contraction_mrr', 'churn_mrr', 'reactivation_mrr', 'new_customers', 'expansion_count',
  'contraction_count', 'churned_customers', 'reactivated_customers', 'paying_delta', 'mrr_delta', 'grr1_loss',
  'nrr1_change', 'grr12_loss', 'nrr12_change',
];
const COHORT_FIELDS = ['customers', 'initial_mrr', 'mrr_delta', 'paying_delta'];
const NPS_FIELDS = ['responses', 'promoters', 'detractors'];

/**
 * Revenue analytics (docs/metrics.md): each customer's MRR movements, and the
 * monthly, cohort and NPS aggregates the dashboard reads. Aggregates are sums of
 * per-customer contributions, so one customer's recompute adds its difference.
 * Money is bigint minor units in the workspace's reporting currency; months are
 * 'YYYY-MM' (UTC).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('analytics_exchange_rates', (t) => {
    t.specificType('currency', 'char(3)').notNullable();
    t.specificType('reporting_currency', 'char(3)').notNullable();
    t.date('on').notNullable();
    t.decimal('rate', 24, 12).notNullable().comment('major units of reporting_currency per major unit of currency');
    t.primary(['currency', 'reporting_currency', 'on']);
  });

  await knex.schema.createTable('analytics_customers', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.specificType('cohort_month', 'char(7)').nullable().comment('month of first payment; null if never paid');
    t.bigInteger('mrr').notNullable().defaultTo(0).comment('MRR after the latest movement');
    t.specificType('currency', 'char(3)').notNullable();
    t.jsonb('warnings').notNullable().defaultTo('[]');
    t.timestamp('computed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['workspace_id', 'customer_id']);
    t.index(['workspace_id', 'cohort_month']);
  });

  await knex.schema.createTable('analytics_movements', (t) => {
    t.bigIncrements('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.text('kind').notNullable();
    t.bigInteger('amount').notNullable();
    t.bigInteger('mrr_before').notNullable();
    t.bigInteger('mrr_after').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.jsonb('original').notNullable().defaultTo('{}').comment('the change in each original currency, minor units');
    t.index(['workspace_id', 'customer_id', 'at']);
    t.index(['workspace_id', 'at']);
  });
  await knex.raw(`alter table analytics_movements add constraint analytics_movements_kind_check
    check (kind in ('new', 'expansion', 'contraction', 'churn', 'reactivation'))`);

  await knex.schema.createTable('analytics_months', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.specificType('month', 'char(7)').notNullable();
    for (const f of MONTH_FIELDS) t.bigInteger(f).notNullable().defaultTo(0);
    t.primary(['workspace_id', 'month']);
  });

  await knex.schema.createTable('analytics_cohorts', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.specificType('cohort_month', 'char(7)').notNullable();
    t.specificType('month', 'char(7)').notNullable();
    for (const f of COHORT_FIELDS) t.bigInteger(f).notNullable().defaultTo(0);
    t.primary(['workspace_id', 'cohort_month', 'month']);
  });

  await knex.schema.createTable('analytics_cohort_nps', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.specificType('cohort_month', 'char(7)').notNullable();
    for (const f of NPS_FIELDS) t.bigInteger(f).notNullable().defaultTo(0);
    t.primary(['workspace_id', 'cohort_month']);
  });

  // NPS answers as they arrive through the signals API.
  await knex.schema.createTable('nps_responses', (t) => {
    t.bigIncrements('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.smallint('score').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.index(['workspace_id', 'customer_id']);
  });
  await knex.raw('alter table nps_responses add constraint nps_responses_score_check check (score between 0 and 10)');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['nps_responses', 'analytics_cohort_nps', 'analytics_cohorts', 'analytics_months', 'analytics_movements', 'analytics_customers', 'analytics_exchange_rates']) {
    await knex.schema.dropTableIfExists(t);
  }
}
