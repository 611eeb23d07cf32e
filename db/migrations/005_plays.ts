import type { Knex } from 'knex';

/**
 * The plays' shared tables (rollout settings, template overrides, the send ledger's
 * extra columns) and dunning's cases for recovery analytics. Drafts, sends and the
 * audit log themselves come from 001.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('play_settings', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('play').notNullable();
    t.text('mode').notNullable().comment('off | review | auto');
    t.integer('auto_percentage').nullable().comment('with auto: share of customers sent automatically; the rest stay in review');
    t.jsonb('config').notNullable().defaultTo('{}').comment("the play's own settings, e.g. dunning's steps");
    t.text('updated_by').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['workspace_id', 'play']);
  });
  await knex.raw(`alter table play_settings add constraint play_settings_mode_check check (mode in ('off', 'review', 'auto'))`);
  await knex.raw(`alter table play_settings add constraint play_settings_percentage_check check (auto_percentage between 0 and 100)`);

  await knex.schema.createTable('email_settings', (t) => {
    t.text('workspace_id').primary().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('from_email').notNullable();
    t.text('from_name').nullable();
    t.text('reply_to').nullable();
    t.text('updated_by').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('template_overrides', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('play').notNullable();
    t.text('template_key').notNullable().comment("e.g. the dunning tone: friendly, helpful, firm, urgent, final");
    t.text('subject').notNullable();
    t.text('body_html').notNullable();
    t.text('body_text').notNullable();
    t.text('updated_by').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['workspace_id', 'play', 'template_key']);
  });

  await knex.schema.alterTable('drafts', (t) => {
    t.text('subject_ref').nullable().comment("what the draft is about besides the customer, e.g. the dunning invoice id");
    t.text('template_key').nullable();
    t.index(['workspace_id', 'play', 'status']);
  });

  await knex.schema.alterTable('sends', (t) => {
    t.text('to_address').nullable();
    t.integer('attempts').notNullable().defaultTo(1);
  });
  // sending: reserved, the provider is being called; retry: the provider refused with
  // 429/5xx, so it did not take the message and a later attempt may send; unconfirmed:
  // found still 'sending' after a crash: it may have gone out, so it is never resent.
  await knex.raw(`alter table sends add constraint sends_status_check check (status in ('sending', 'retry', 'sent', 'failed', 'unconfirmed'))`);

  await knex.schema.createTable('dunning_cases', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('invoice_id').notNullable();
    t.text('customer_id').notNullable();
    t.text('workflow_id').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.bigInteger('amount_due').notNullable();
    t.timestamp('failed_at', { useTz: true }).notNullable();
    t.text('outcome').nullable().comment('null while running; recovered | paid_out_of_band | invoice_closed | subscription_deleted | discarded | exhausted');
    t.integer('emails_sent').notNullable().defaultTo(0);
    t.integer('last_step_sent').nullable().comment('index of the last step emailed before the outcome');
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.primary(['workspace_id', 'invoice_id']);
    t.index(['workspace_id', 'failed_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('dunning_cases');
  await knex.raw('alter table sends drop constraint if exists sends_status_check');
  await knex.schema.alterTable('sends', (t) => {
    t.dropColumn('to_address');
    t.dropColumn('attempts');
  });
  await knex.schema.alterTable('drafts', (t) => {
    t.dropIndex(['workspace_id', 'play', 'status']);
    t.dropColumn('subject_ref');
    t.dropColumn('template_key');
  });
  await knex.schema.dropTableIfExists('template_overrides');
  await knex.schema.dropTableIfExists('email_settings');
  await knex.schema.dropTableIfExists('play_settings');
}
