import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { insertInboxEvent } from '../../db/inbox';
import { InboxRelay, LEADER_LOCK_KEY } from '../../workers/relay';
import { freshDatabase } from '../helpers/db';
import { stripeEvent, stripeFixture } from '../helpers/stripe';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { connectDevServer, eventually, type DevServer } from '../helpers/temporal';

/*
 * Any number of workers run a relay; the one holding the leadership lock relays. The
 * others wait to take over, trying the lock once a poll, not once an arrival.
 */

const ws = 'ws_leader';

describe('relay leadership', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Leader' });
    temporal = await connectDevServer();
  });
  afterAll(async () => {
    await temporal?.close();
    await database?.drop();
  });

  let n = 0;
  /** Stores a subscription update (no play acts on one), as the ingress would. */
  async function store(): Promise<void> {
    const sub = { ...stripeFixture('subscription'), id: 'sub_leader', customer: 'cus_leader' };
    const event = stripeEvent('customer.subscription.updated', sub, { id: `evt_leader_${++n}`, created: 1_700_000_000 + n });
    await insertInboxEvent(database.db, {
      workspaceId: ws,
      eventId: event.id as string,
      type: 'customer.subscription.updated',
      customerId: 'cus_leader',
      objectId: sub.id,
      stripeCreated: new Date((event.created as number) * 1000),
      livemode: false,
      payload: event,
    });
  }

  const pendingCount = async () => Number((await database.db('webhook_inbox').where({ workspace_id: ws, status: 'pending' }).count<{ count: string }[]>({ count: '*' }))[0]!.count);

  it('does not relay while another holds the lock, tries it once a poll meanwhile, and takes over when it is free', async () => {
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    await holder.query('select pg_advisory_lock($1)', [LEADER_LOCK_KEY]);
    // Counts the relay's tries of the lock on its (real) listener connection.
    const queries = vi.spyOn(pg.Client.prototype, 'query');
    const tries = () => queries.mock.calls.filter(([text]) => typeof text === 'string' && text.includes('pg_try_advisory_lock')).length;
    const relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue: 'unused', log: pino({ level: 'silent' }), pollMs: 500 });
    relay.start();
    try {
      // 150 arrivals in about two seconds, each notifying the relay.
      const startedAt = Date.now();
      for (let i = 0; i < 150; i++) {
        await store();
        await new Promise((r) => setTimeout(r, 10));
      }
      const polls = (Date.now() - startedAt) / 500;
      // One try a poll (and the first at its start), not one an arrival.
      expect(tries()).toBeGreaterThanOrEqual(1);
      expect(tries()).toBeLessThanOrEqual(Math.ceil(polls) + 2);
      expect(await pendingCount()).toBe(150);

      // The lock free, the relay takes over and delivers what waited.
      await holder.query('select pg_advisory_unlock($1)', [LEADER_LOCK_KEY]);
      await eventually(pendingCount, (left) => left === 0);
    } finally {
      queries.mockRestore();
      await relay.stop();
      await holder.end();
    }
  });

  it('steps down when the connection holding its lock stops answering, and another relay leads once Postgres frees the lock', async () => {
    const target = new URL(database.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const lines: { msg: string; err?: string }[] = [];
    const logTo = (relay: string) =>
      pino({ level: 'info' }, {
        write: (line: string) => {
          const entry = JSON.parse(line) as { msg: string; err?: string };
          lines.push({ ...entry, msg: `${relay}: ${entry.msg}` });
        },
      });
    const options = { db: database.db, client: temporal.client, taskQueue: 'unused', pollMs: 200, leaderCheckMs: 500 };
    // The first relay's lock connection goes through the proxy; its pool, like the second relay, straight to Postgres.
    const first = new InboxRelay({ ...options, databaseUrl: proxy.urlFor(database.url), log: logTo('first') });
    const second = new InboxRelay({ ...options, databaseUrl: database.url, log: logTo('second') });
    const said = (text: string) => lines.some((l) => l.msg === text);
    try {
      first.start();
      await eventually(() => Promise.resolve(said('first: relay: leading (this worker relays the inbox)')), Boolean);
      second.start();
      await store();
      await eventually(pendingCount, (left) => left === 0);

      // The path to the lock's connection dies silently: no error, no reset.
      proxy.freeze();
      await eventually(() => Promise.resolve(lines.some((l) => l.msg === 'first: relay: stepping down' && /leadership lock did not answer/.test(l.err ?? ''))), Boolean);
      // Postgres still holds the lock for the silent connection, so no one relays; the
      // first relay, which can still reach Postgres through its pool, no longer does.
      await store();
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await pendingCount()).toBe(1);

      // Postgres gives up on the silent peer: the lock is free, and a relay takes over.
      proxy.cut();
      await eventually(pendingCount, (left) => left === 0);
      expect(lines.filter((l) => / relay: leading/.test(l.msg)).length).toBe(2);
    } finally {
      await first.stop();
      await second.stop();
      await proxy.close();
    }
  });
});
