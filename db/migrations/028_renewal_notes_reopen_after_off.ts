import type { Knex } from 'knex';

/**
 * A renewal's note is unique unless it ended because the play was off: a workspace
 * that turns the play off and on again within the weeks before a renewal gets its
 * note then, instead of the off one standing for that renewal for good.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table renewal_notes drop constraint renewal_notes_workspace_id_subscription_id_renews_at_unique');
  await knex.raw(
    `create unique index renewal_notes_once_per_renewal on renewal_notes (workspace_id, subscription_id, renews_at) where outcome is distinct from 'off'`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists renewal_notes_once_per_renewal');
  // Of several notes for one renewal, the newest stays.
  await knex.raw(
    `delete from renewal_notes n using renewal_notes m
      where m.workspace_id = n.workspace_id and m.subscription_id = n.subscription_id and m.renews_at = n.renews_at and (m.started_at, m.id) > (n.started_at, n.id)`,
  );
  await knex.raw('alter table renewal_notes add constraint renewal_notes_workspace_id_subscription_id_renews_at_unique unique (workspace_id, subscription_id, renews_at)');
}
