import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointActivity } from '../../db/inbox';
import type { Knex } from '../../db/knex';
import { freshDatabase, planOf, statementsOf } from '../helpers/db';

/*
 * The Webhooks page's summary of an endpoint must cost the day it shows, not the 35
 * days of events retention keeps: read whole, a busy account's inbox is gigabytes,
 * read again on every view of the page and pushing the relay's pages out of the cache.
 */

const DAY_MS = 86_400_000;
const DAYS = 35;
const PER_DAY = 1_000;

/** `count` events of `ws`, evenly spread over the `days` days before `endsAgoMs` ago, oldest first (in seq order, as they arrive). */
async function addHistory(db: Knex, ws: string, opts: { count: number; days: number; endsAgoMs?: number; apiVersion: string }) {
  await db.raw(
    `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, status, processed_at, received_at)
     select ?, ? || n, (array['customer.subscription.updated', 'invoice.payment_succeeded'])[1 + n % 2], 'cus_' || (n % 500), 'sub_' || n, now(), false,
            json_build_object('api_version', ?::text, 'pad', repeat('x', 500)), 'processed', now(),
            now() - make_interval(secs => (?::float8 / 1000) + (?::int - n)::float8 * ?::int * 86400 / ?::int)
       from generate_series(1, ?::int) as n`,
    [ws, `evt_${ws}_`, opts.apiVersion, opts.endsAgoMs ?? 0, opts.count, opts.days, opts.count, opts.count],
  );
}

describe('webhook summary: the window it shows, not the retention behind it', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert([
      { id: 'ws_busy', name: 'Busy' },
      { id: 'ws_other', name: 'Other' },
      { id: 'ws_quiet', name: 'Quiet' },
    ]);
    // Statistics as an analyze after the load leaves them, for every statement alike.
    await database.db.raw('alter table webhook_inbox set (autovacuum_enabled = false)');
    await addHistory(database.db, 'ws_busy', { count: DAYS * PER_DAY, days: DAYS, apiVersion: '2025-03-31.basil' });
    await addHistory(database.db, 'ws_other', { count: DAYS * 100, days: DAYS, apiVersion: '2024-06-20' });
    // Quiet for the last three days.
    await addHistory(database.db, 'ws_quiet', { count: 300, days: 10, endsAgoMs: 3 * DAY_MS, apiVersion: '2023-10-16' });
    // Ten of the busy workspace's oldest events were set aside as another mode's.
    await database.db.raw(
      `update webhook_inbox set status = 'ignored', last_error = 'not applied: the event is a live-mode event, and this workspace mirrors test-mode data'
        where seq in (select seq from webhook_inbox where workspace_id = 'ws_busy' order by seq limit 10)`,
    );
    await database.db.raw('vacuum analyze webhook_inbox');
  }, 120_000);
  afterAll(async () => {
    await database?.drop();
  });

  /** The summary, and the buffers all its statements touch together. */
  async function summarise(ws: string) {
    const since = new Date(Date.now() - DAY_MS);
    const { result, statements } = await statementsOf(database.db, () => endpointActivity(database.db, ws, since));
    let buffers = 0;
    for (const statement of statements) {
      const plan = await planOf(database.db, statement);
      buffers += plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
    }
    return { activity: result, buffers };
  }

  const tablePages = async () =>
    Number((await database.db.raw<{ rows: { pages: string }[] }>(`select pg_relation_size('webhook_inbox') / current_setting('block_size')::int as pages`)).rows[0]!.pages);

  it("counts the busy workspace's last day through a small part of the table, and its set-aside events kept whenever they came", async () => {
    const { activity, buffers } = await summarise('ws_busy');
    const received = activity.received.reduce((n, t) => n + t.count, 0);
    // A day of 1,000 events a day (give or take the one on the window's edge).
    expect(received).toBeGreaterThanOrEqual(PER_DAY - 1);
    expect(received).toBeLessThanOrEqual(PER_DAY + 1);
    expect(activity.setAsideKept).toBe(10);
    expect(activity.received.every((t) => t.setAside === 0)).toBe(true);
    expect(Date.now() - activity.lastReceivedAt!.getTime()).toBeLessThan(60_000);
    expect(activity.apiVersions).toEqual([{ apiVersion: '2025-03-31.basil', events: 100 }]);
    // Read whole, the workspace's 35 days are most of the table.
    expect(buffers).toBeLessThan((await tablePages()) / 5);
  });

  it('finds a workspace quiet for the whole window its latest event and API versions in what it keeps', async () => {
    const { activity } = await summarise('ws_quiet');
    expect(activity.received).toEqual([]);
    const quietFor = Date.now() - activity.lastReceivedAt!.getTime();
    expect(quietFor).toBeGreaterThanOrEqual(3 * DAY_MS);
    expect(quietFor).toBeLessThan(3 * DAY_MS + 60_000);
    expect(activity.apiVersions).toEqual([{ apiVersion: '2023-10-16', events: 100 }]);
    expect(activity.setAsideKept).toBe(0);
  });
});
