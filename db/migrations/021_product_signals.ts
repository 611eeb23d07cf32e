import type { Knex } from 'knex';

/**
 * Product signals from the workspace's own product, through the signals API: usage
 * of a metric, logins and support tickets, one row per signal the product sent. The
 * sender names each signal (`signal_id`), so a retried request stores nothing twice.
 * The plays read a customer's recent signals (dunning's drafts cite their usage).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('product_signals', (t) => {
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('signal_id').notNullable().comment("the sender's id for the signal: a second signal with it is a duplicate");
    t.text('customer_id').notNullable().comment('the Stripe customer the signal is about; it need not be mirrored yet');
    t.text('kind').notNullable();
    t.text('metric').nullable().comment('usage: what was used (e.g. reports_generated)');
    t.bigInteger('quantity').nullable().comment('usage: how much of it');
    t.text('ticket_id').nullable().comment("ticket: the support tool's id of the ticket");
    t.text('ticket_status').nullable();
    t.text('ticket_priority').nullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['workspace_id', 'signal_id']);
    // Every read is one customer's signals of a kind over a window of time.
    t.index(['workspace_id', 'customer_id', 'kind', 'occurred_at']);
  });
  // A check passes on NULL: the columns each kind needs are required by name.
  await knex.raw(`
    alter table product_signals add constraint product_signals_shape check (
      (kind = 'usage' and metric is not null and quantity is not null and quantity >= 0 and ticket_id is null and ticket_status is null and ticket_priority is null)
      or (kind = 'login' and metric is null and quantity is null and ticket_id is null and ticket_status is null and ticket_priority is null)
      or (kind = 'ticket' and metric is null and quantity is null and ticket_id is not null and ticket_status is not null and ticket_status in ('opened', 'solved')
          and (ticket_priority is null or ticket_priority in ('low', 'normal', 'high', 'urgent')))
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('product_signals');
}
