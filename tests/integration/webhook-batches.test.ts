import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';
import { eventually } from '../helpers/temporal';

/**
 * Events that arrive while the ingress's inbox inserts are under way go together in
 * the next insert. Postgres is held up with a table lock, so that the first two inserts
 * wait and everything else piles up behind them.
 */
describe('webhook ingress: events that arrive together share an insert', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secret = 'whsec_batches';
  const workspaceId = 'ws_batches';
  const metrics = createMetrics();
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: workspaceId, name: 'Batches', webhookSecret: secret });
    api = await startApi(database.db, keyring, { metrics });
    // The secret read once before the piles: requests that wait for one read of it go on
    // in the same tick, and the first two would then share an insert.
    expect((await post(eventBody('cus_warm_up'))).status).toBe(200);
    // Postgres refuses one event of its own accord (the batch that holds it must not fail its batchmates).
    await database.db.raw(`
      create function refuse_marked_event() returns trigger language plpgsql as $$
      begin
        if new.event_id like '%refused' then raise exception 'event % refused', new.event_id; end if;
        return new;
      end $$;
      create trigger refuse_marked_event before insert on webhook_inbox for each row execute function refuse_marked_event();`);
  });
  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  const post = async (body: string) => {
    const res = await fetch(`${api.url}/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secret) }, body });
    return { status: res.status, body: (await res.json()) as { received?: boolean; duplicate?: boolean } };
  };
  const eventBody = (customer: string, id?: string) =>
    JSON.stringify(stripeEvent('invoice.payment_succeeded', { ...stripeFixture('invoice'), customer }, id ? { id } : {}));

  const lockWaiters = async () =>
    Number(
      (await database.db.raw<{ rows: { n: string }[] }>(`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%insert into webhook_inbox%'`))
        .rows[0]!.n,
    );
  const waiting = async () => (await metrics.webhookEventsWaiting.get()).values[0]?.value;

  /**
   * Posts `first` (two events) while the inbox is locked, and once both inserts wait
   * for the lock, `rest`; releases the lock once all of `rest` wait behind them.
   */
  async function postWhileLocked(first: string[], rest: string[]) {
    return database.db.transaction(async (trx) => {
      await trx.raw('lock table webhook_inbox in share mode');
      const firstAnswers = Promise.all(first.map(post));
      await eventually(lockWaiters, (n) => n === 2);
      const restAnswers = Promise.all(rest.map(post));
      await eventually(waiting, (n) => n === rest.length);
      return { first: firstAnswers, rest: restAnswers };
    });
  }

  /** How the stored events of a customer were written: events per inserting transaction, largest first. */
  const insertsOf = async (customer: string) => {
    const { rows } = await database.db.raw<{ rows: { n: string }[] }>(
      `select count(*) as n from webhook_inbox where customer_id = ? group by xmin::text order by n desc`,
      [customer],
    );
    return rows.map((r) => Number(r.n));
  };

  it('stores what piled up in one insert, each event once, and answers a duplicate among them as a duplicate', async () => {
    const bodies = Array.from({ length: 11 }, () => eventBody('cus_pile'));
    // The fifth event is delivered twice in the same pile.
    const sent = await postWhileLocked(bodies.slice(0, 2), [...bodies.slice(2), bodies[4]!]);
    const answers = [...(await sent.first), ...(await sent.rest)];
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(answers.filter((a) => a.body.duplicate).length).toBe(1);
    expect(answers.filter((a) => a.body.duplicate === false).length).toBe(11);
    // Two inserts of one event each (those that went first), then one of the other nine.
    expect(await insertsOf('cus_pile')).toEqual([9, 1, 1]);
    expect(await waiting()).toBe(0);
  });

  it('fails only the event Postgres refuses; the others of its insert are stored', async () => {
    const refusedId = `evt_batch_${Date.now()}_refused`;
    const bodies = [...Array.from({ length: 3 }, () => eventBody('cus_refuse')), eventBody('cus_refuse', refusedId), ...Array.from({ length: 3 }, () => eventBody('cus_refuse'))];
    const sent = await postWhileLocked(bodies.slice(0, 2), bodies.slice(2));
    const answers = [...(await sent.first), ...(await sent.rest)];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 500, 200, 200, 200]);
    const stored = await database.db('webhook_inbox').where({ customer_id: 'cus_refuse' }).pluck('event_id');
    expect(stored.sort()).toEqual(bodies.filter((_, i) => i !== 3).map((b) => (JSON.parse(b) as { id: string }).id).sort());
    // The refused event's batchmates went one by one after their batch failed.
    expect(await insertsOf('cus_refuse')).toEqual([1, 1, 1, 1, 1, 1]);
    // Stripe's retry of the refused event, once Postgres takes it, is stored.
    await database.db.raw('drop trigger refuse_marked_event on webhook_inbox');
    expect((await post(bodies[3]!)).status).toBe(200);
  });
});
