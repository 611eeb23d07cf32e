import type { Knex } from 'knex';

/**
 * NPS answers may carry the sender's id for the answer (as product signals do), so
 * a retried request records an answer once. Answers sent without one are kept as
 * they come, as before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('nps_responses', (t) => {
    t.text('answer_id').nullable().comment("the sender's id for the answer: a second answer with it is a duplicate");
  });
  await knex.raw('create unique index nps_responses_answer_id on nps_responses (workspace_id, answer_id) where answer_id is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists nps_responses_answer_id');
  await knex.schema.alterTable('nps_responses', (t) => {
    t.dropColumn('answer_id');
  });
}
