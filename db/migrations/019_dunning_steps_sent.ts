import type { Knex } from 'knex';

/**
 * The steps a dunning emailed, for recovery analytics: a dunning begun late starts at
 * the step due by then, so "reached step k" can no longer be read from the last step
 * sent. Null for cases closed before this column, which began at step 0 and sent each
 * due step. dunning_cases is small and written once per dunning's start and end, so
 * its brief exclusive lock needs no wait limit.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table dunning_cases add column if not exists steps_sent integer[]`);
  await knex.raw(`comment on column dunning_cases.steps_sent is 'indexes of the steps emailed, ascending; null for cases closed before it was recorded'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table dunning_cases drop column if exists steps_sent`);
}
