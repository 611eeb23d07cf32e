import type { Knex } from 'knex';

/**
 * The steps a dunning emailed, for recovery analytics. "Reached step k" cannot be read
 * from the last step sent: a dunning begun late starts at the step due by then, one in
 * review mode skips the steps nobody approved in time, and a discarded email is not
 * sent. Closed cases are filled in from their sent drafts (`step-<n>`); a case without
 * any keeps null and is read as before (every step up to its last one). dunning_cases
 * is small and written once per dunning's start and end, so its brief exclusive lock
 * needs no wait limit.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table dunning_cases add column if not exists steps_sent integer[]`);
  await knex.raw(`comment on column dunning_cases.steps_sent is 'indexes of the steps emailed, ascending; null for cases closed before it was recorded'`);
  await knex.raw(
    `update dunning_cases c
        set steps_sent = sent.steps
       from (select workspace_id, workflow_id, array_agg(distinct substr(step, 6)::int order by substr(step, 6)::int) as steps
               from drafts
              where play = 'dunning' and status = 'sent' and step ~ '^step-[0-9]{1,6}$'
              group by workspace_id, workflow_id) sent
      where c.workspace_id = sent.workspace_id and c.workflow_id = sent.workflow_id
        and c.outcome is not null and c.steps_sent is null`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table dunning_cases drop column if exists steps_sent`);
}
