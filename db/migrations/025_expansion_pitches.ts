import type { Knex } from 'knex';

/**
 * The expansion playbook: the seats each subscription item gained or lost and when
 * (its trigger, "added 3 or more seats", compares them), and one row each time the
 * play pitched (or would have) an upgrade, as churn_saves does for saves.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('seat_changes', (t) => {
    t.bigIncrements('id');
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('subscription_id').notNullable();
    t.text('item_id').notNullable();
    t.integer('from_quantity').notNullable();
    t.integer('to_quantity').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().comment("Stripe's time of the state that changed it (the item's stripe_state_at)");
    t.index(['workspace_id', 'at']);
  });
  // Every writer of the mirror (the sync, the relay, a re-fetch) goes through the one
  // upsert; a trigger sees each change of quantity whichever brought it, and only
  // changes: the upsert skips older states, so an out-of-order event records nothing.
  await knex.raw(`
    create function record_seat_change() returns trigger language plpgsql as $$
    begin
      insert into seat_changes (workspace_id, subscription_id, item_id, from_quantity, to_quantity, at)
      values (new.workspace_id, new.subscription_id, new.id, old.quantity, new.quantity, new.stripe_state_at);
      return null;
    end $$`);
  await knex.raw(`
    create trigger stripe_subscription_items_seat_change after update of quantity on stripe_subscription_items
    for each row when (old.quantity is not null and new.quantity is not null and old.quantity <> new.quantity)
    execute function record_seat_change()`);

  await knex.schema.createTable('expansion_pitches', (t) => {
    t.uuid('id').primary();
    t.text('workspace_id').notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.text('customer_id').notNullable();
    t.text('workflow_id').notNullable().unique();
    t.text('trigger').notNullable().comment('near_limit | seats_added (domain/expansion.ts)');
    t.jsonb('evidence').notNullable().comment('what set it off: the limit and the use of it, or the seats before and after');
    t.text('target_product_id').notNullable().comment('the plan pitched');
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('workflow_started_at', { useTz: true }).nullable().comment('null until the scan has started its workflow');
    t.text('outcome').nullable().comment('null while open; see domain/expansion.ts EXPANSION_OUTCOMES');
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.index(['workspace_id', 'customer_id', 'started_at']);
  });
  await knex.raw('create unique index expansion_pitches_one_open on expansion_pitches (workspace_id, customer_id) where ended_at is null');
  await knex.raw('alter table expansion_pitches add constraint expansion_pitches_ended check ((outcome is null) = (ended_at is null))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('expansion_pitches');
  await knex.raw('drop trigger if exists stripe_subscription_items_seat_change on stripe_subscription_items');
  await knex.raw('drop function if exists record_seat_change()');
  await knex.schema.dropTableIfExists('seat_changes');
}
