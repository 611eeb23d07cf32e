import type { Knex } from 'knex';

/**
 * A note that ended `refolded` (its upgrade went to a customer whose churn risk then
 * reached the threshold) no longer holds its renewal either: the scan drafts the
 * note again, with the fold the customer calls for now.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop index renewal_notes_once_per_renewal');
  await knex.raw(
    `create unique index renewal_notes_once_per_renewal on renewal_notes (workspace_id, subscription_id, renews_at) where outcome is null or outcome not in ('off', 'refolded')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index renewal_notes_once_per_renewal');
  // A refolded note gave way to the one after it, as an off one does.
  await knex.raw(`update renewal_notes set outcome = 'off' where outcome = 'refolded'`);
  await knex.raw(
    `create unique index renewal_notes_once_per_renewal on renewal_notes (workspace_id, subscription_id, renews_at) where outcome is distinct from 'off'`,
  );
}
