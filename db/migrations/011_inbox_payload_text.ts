import type { Knex } from 'knex';

/**
 * The inbox keeps each event's verified body as Stripe sent it: `json` stores the text
 * itself (validated, not parsed into a tree), where `jsonb` re-encoded every event on the
 * way in and out. Nothing queries inside stored payloads; the relay reads them whole.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox alter column payload type json using payload::text::json`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox alter column payload type jsonb using payload::jsonb`);
}
