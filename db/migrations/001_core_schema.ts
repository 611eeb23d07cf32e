import type { Knex } from 'knex';

/**
 * Core schema: workspaces, the Stripe mirror, the webhook inbox, drafts, sends and
 * the audit log. Money is bigint minor units beside a currency; times are timestamptz
 * (UTC). Mirror rows are keyed by (workspace_id, Stripe id) so tenants never collide,
 * and keep only what the product uses: no card numbers or payment-method details.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('workspaces', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.text('stripe_account_id').nullable().comment('Connect account id; one workspace per connected account');
    t.boolean('livemode').notNullable().defaultTo(false);
    // Secrets are sealed AES-256-GCM envelopes that carry the id of their key (platform/crypto.ts).
    t.text('stripe_key_ciphertext').nullable();
    t.text('webhook_secret_ciphertext').nullable();
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['stripe_account_id']);
  });

  const mirror = (name: string, build: (t: Knex.CreateTableBuilder) => void) =>
    knex.schema.createTable(name, (t) => {
      t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
      t.text('id').notNullable();
      build(t);
      t.boolean('livemode').notNullable().defaultTo(false);
      t.jsonb('metadata').notNullable().defaultTo('{}');
      t.timestamp('created', { useTz: true }).nullable();
      // When Stripe produced the state we hold (event time or fetch time): an older
      // event never overwrites newer state.
      t.timestamp('stripe_state_at', { useTz: true }).notNullable();
      t.timestamp('synced_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.primary(['workspace_id', 'id']);
    });

  await mirror('stripe_products', (t) => {
    t.text('name').notNullable();
    t.boolean('active').notNullable().defaultTo(true);
  });
  await mirror('stripe_prices', (t) => {
    t.text('product_id').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.bigInteger('unit_amount').nullable();
    t.text('billing_scheme').notNullable().defaultTo('per_unit');
    t.jsonb('tiers').nullable();
    t.text('type').notNullable().comment('one_time | recurring');
    t.text('recurring_interval').nullable();
    t.integer('recurring_interval_count').nullable();
    t.text('recurring_usage_type').nullable();
    t.boolean('active').notNullable().defaultTo(true);
    t.index(['workspace_id', 'product_id']);
  });
  await mirror('stripe_customers', (t) => {
    t.text('email').nullable();
    t.text('name').nullable();
    t.specificType('currency', 'char(3)').nullable();
    t.boolean('delinquent').notNullable().defaultTo(false);
    t.boolean('deleted').notNullable().defaultTo(false);
  });
  await mirror('stripe_subscriptions', (t) => {
    t.text('customer_id').notNullable();
    t.text('status').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.boolean('cancel_at_period_end').notNullable().defaultTo(false);
    t.timestamp('cancel_at', { useTz: true }).nullable();
    t.timestamp('canceled_at', { useTz: true }).nullable();
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.timestamp('start_date', { useTz: true }).nullable();
    t.timestamp('current_period_start', { useTz: true }).nullable();
    t.timestamp('current_period_end', { useTz: true }).nullable();
    t.timestamp('trial_start', { useTz: true }).nullable();
    t.timestamp('trial_end', { useTz: true }).nullable();
    t.jsonb('discounts').notNullable().defaultTo('[]').comment('coupon terms needed for MRR: percent/amount off, duration, start/end');
    t.index(['workspace_id', 'customer_id']);
  });
  await mirror('stripe_subscription_items', (t) => {
    t.text('subscription_id').notNullable();
    t.text('price_id').notNullable();
    t.integer('quantity').nullable();
    t.index(['workspace_id', 'subscription_id']);
  });
  await mirror('stripe_invoices', (t) => {
    t.text('customer_id').notNullable();
    t.text('subscription_id').nullable();
    t.text('status').nullable().comment('draft | open | paid | uncollectible | void');
    t.specificType('currency', 'char(3)').notNullable();
    t.bigInteger('amount_due').notNullable();
    t.bigInteger('amount_paid').notNullable();
    t.bigInteger('amount_remaining').notNullable();
    t.bigInteger('subtotal').notNullable();
    t.bigInteger('total').notNullable();
    t.bigInteger('tax').nullable();
    t.integer('attempt_count').notNullable().defaultTo(0);
    t.timestamp('next_payment_attempt', { useTz: true }).nullable();
    t.text('billing_reason').nullable();
    t.text('hosted_invoice_url').nullable();
    t.timestamp('period_start', { useTz: true }).nullable();
    t.timestamp('period_end', { useTz: true }).nullable();
    t.timestamp('paid_at', { useTz: true }).nullable();
    t.index(['workspace_id', 'customer_id']);
    t.index(['workspace_id', 'subscription_id']);
  });
  await mirror('stripe_invoice_lines', (t) => {
    t.text('invoice_id').notNullable();
    t.text('subscription_id').nullable();
    t.text('price_id').nullable();
    t.text('type').notNullable().comment('subscription | invoiceitem');
    t.bigInteger('amount').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.integer('quantity').nullable();
    t.boolean('proration').notNullable().defaultTo(false);
    t.timestamp('period_start', { useTz: true }).nullable();
    t.timestamp('period_end', { useTz: true }).nullable();
    t.jsonb('discount_amounts').notNullable().defaultTo('[]');
    t.index(['workspace_id', 'invoice_id']);
  });
  await mirror('stripe_charges', (t) => {
    t.text('customer_id').nullable();
    t.text('invoice_id').nullable();
    t.text('payment_intent_id').nullable();
    t.bigInteger('amount').notNullable();
    t.bigInteger('amount_refunded').notNullable().defaultTo(0);
    t.specificType('currency', 'char(3)').notNullable();
    t.text('status').notNullable();
    t.boolean('paid').notNullable();
    t.boolean('refunded').notNullable().defaultTo(false);
    t.text('failure_code').nullable();
    t.text('failure_message').nullable();
    t.index(['workspace_id', 'customer_id']);
  });
  await mirror('stripe_refunds', (t) => {
    t.text('charge_id').nullable();
    t.bigInteger('amount').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.text('status').nullable();
    t.text('reason').nullable();
    t.index(['workspace_id', 'charge_id']);
  });
  await mirror('stripe_payment_intents', (t) => {
    t.text('customer_id').nullable();
    t.text('invoice_id').nullable();
    t.bigInteger('amount').notNullable();
    t.specificType('currency', 'char(3)').notNullable();
    t.text('status').notNullable();
  });

  await knex.schema.createTable('webhook_inbox', (t) => {
    t.bigIncrements('seq').primary().comment('arrival order; the relay applies events per customer in this order');
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('event_id').notNullable();
    t.text('type').notNullable();
    t.text('customer_id').nullable().comment('null for events that concern no customer');
    t.text('object_id').nullable();
    t.timestamp('stripe_created', { useTz: true }).notNullable();
    t.boolean('livemode').notNullable();
    t.jsonb('payload').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_error').nullable();
    t.timestamp('processed_at', { useTz: true }).nullable();
    t.unique(['workspace_id', 'event_id']);
  });
  await knex.raw(`alter table webhook_inbox add constraint webhook_inbox_status_check
    check (status in ('pending', 'processed', 'ignored'))`);
  await knex.raw(`create index webhook_inbox_pending on webhook_inbox (seq) where status = 'pending'`);

  await knex.schema.createTable('drafts', (t) => {
    t.uuid('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.text('play').notNullable();
    t.text('step').notNullable();
    t.text('workflow_id').notNullable();
    t.text('status').notNullable();
    t.text('to_address').nullable();
    t.text('subject').notNullable();
    t.text('body_html').notNullable();
    t.text('body_text').notNullable();
    t.jsonb('facts').notNullable().defaultTo('{}');
    t.timestamp('scheduled_for', { useTz: true }).nullable();
    t.integer('version').notNullable().defaultTo(1);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['workflow_id', 'step']);
    t.index(['workspace_id', 'status']);
    t.index(['workspace_id', 'customer_id']);
  });
  await knex.raw(`alter table drafts add constraint drafts_status_check check (status in
    ('drafted', 'approved', 'edited', 'discarded', 'scheduled', 'sent', 'failed', 'cancelled'))`);

  await knex.schema.createTable('sends', (t) => {
    t.bigIncrements('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.uuid('draft_id').notNullable().references('id').inTable('drafts').onDelete('CASCADE');
    t.text('idempotency_key').notNullable().unique().comment('one send per draft, ever');
    t.text('provider').notNullable();
    t.text('status').notNullable().comment('sending | sent | failed');
    t.text('provider_message_id').nullable();
    t.text('error').nullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.text('workspace_id').nullable().references('id').inTable('workspaces');
    t.text('actor').notNullable().comment('user:<id>, token:<id>, system:<component>');
    t.text('action').notNullable();
    t.text('target_type').notNullable();
    t.text('target_id').nullable();
    t.jsonb('before').nullable();
    t.jsonb('after').nullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['workspace_id', 'at']);
  });
  // The audit log is append-only: the database itself refuses to change history.
  await knex.raw(`
    create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only: % refused', tg_op;
    end $$;
    create trigger audit_log_no_update before update or delete on audit_log
      for each row execute function audit_log_append_only();
    create trigger audit_log_no_truncate before truncate on audit_log
      for each statement execute function audit_log_append_only();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists audit_log cascade');
  await knex.raw('drop function if exists audit_log_append_only()');
  for (const t of [
    'sends', 'drafts', 'webhook_inbox', 'stripe_payment_intents', 'stripe_refunds', 'stripe_charges',
    'stripe_invoice_lines', 'stripe_invoices', 'stripe_subscription_items', 'stripe_subscriptions',
    'stripe_customers', 'stripe_prices', 'stripe_products', 'workspaces',
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
}
