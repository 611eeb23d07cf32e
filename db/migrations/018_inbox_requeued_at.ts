import type { Knex } from 'knex';

/**
 * When an owner queued an event again (db/inbox.ts reapplySetAsideEvents): an event
 * set aside weeks ago and applied now waits since then, not since it arrived, for the
 * backlog's age and the relay's lag, which would otherwise report weeks and set off
 * alerts. Null for every event the ingress stores.
 *
 * A nullable column without a default rewrites nothing, but takes the inbox's exclusive
 * lock for a moment: waiting for it behind a long read or retention's delete would hold
 * back every webhook insert queued behind the wait. So the wait gives up after a few
 * seconds and is tried again, as migration 015 does for the mirror.
 */
export const config = { transaction: false };

const ATTEMPTS = 10;

export async function up(knex: Knex): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await knex.transaction(async (trx) => {
        await trx.raw(`set local lock_timeout = '3s'`);
        await trx.raw(`alter table webhook_inbox add column if not exists requeued_at timestamptz`);
      });
      return;
    } catch (err) {
      // 55P03: lock_not_available (the lock timeout).
      if ((err as { code?: string }).code !== '55P03' || attempt === ATTEMPTS) throw err;
    }
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table webhook_inbox drop column if exists requeued_at`);
}
