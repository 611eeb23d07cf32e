import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { inboxCounts } from '../../db/inbox';
import { createDb, type Knex } from '../../db/knex';
import { migrationConfig } from '../../db/migrations';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { InboxRelay } from '../../workers/relay';
import { customerWorkflowId } from '../../workflows/ids';
import { recentEventsQuery } from '../../workflows/messages';
import { startApi, type TestApi } from '../helpers/api';
import { mirrorOpenInvoice } from '../helpers/mirror';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';
import { connectDevServer, eventually, runWorker, uniqueTaskQueue, type DevServer } from '../helpers/temporal';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../setup/postgres';

/**
 * A Postgres restart: while it is down the endpoint answers 503 (so Stripe retries)
 * and the relay waits; afterwards Stripe's retry is stored and delivered once.
 */
describe('Postgres restarting under the ingress and the relay', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secret = 'whsec_pg';
  const ws = 'ws_pgout';
  let postgres: ThrowawayPostgres;
  let db: Knex;
  let api: TestApi;
  let temporal: DevServer;
  let worker: Awaited<ReturnType<typeof runWorker>>;
  let relay: InboxRelay;

  beforeAll(async () => {
    postgres = await startThrowawayPostgres('wysera-pgout-');
    db = createDb(postgres.urlOf('wysera'), 5);
    await db.migrate.latest(migrationConfig);
    await insertWorkspace(db, keyring, { id: ws, name: 'PG outage', webhookSecret: secret });
    // The subscription's end below reaches the workflow only while an invoice of it is unpaid.
    await mirrorOpenInvoice(db, ws, 'cus_pg', stripeFixture('subscription').id as string);
    temporal = await connectDevServer();
    const taskQueue = uniqueTaskQueue('pgout');
    worker = await runWorker(temporal, taskQueue, { db, keyring });
    relay = new InboxRelay({ db, databaseUrl: postgres.urlOf('wysera'), client: temporal.client, taskQueue, log: pino({ level: 'silent' }), pollMs: 100 });
    relay.start();
    api = await startApi(db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await relay?.stop();
    await worker?.stop();
    await temporal?.close();
    await db?.destroy();
    await postgres?.stop();
  });

  const post = async (body: string) => {
    const res = await fetch(`${api.url}/webhooks/stripe/${ws}`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secret) }, body });
    return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
  };
  const eventsOf = () => temporal.client.workflow.getHandle(customerWorkflowId(ws, 'cus_pg')).query(recentEventsQuery);

  it('answers 503 while Postgres is down, then stores and delivers Stripe’s retry once', async () => {
    const first = stripeEvent('customer.subscription.deleted', { ...stripeFixture('subscription'), customer: 'cus_pg' });
    expect((await post(JSON.stringify(first))).status).toBe(200);
    await eventually(eventsOf, (e) => e.length === 1);

    postgres.pause();
    const secondEvent = stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_pg' });
    const second = JSON.stringify(secondEvent);
    // The secret may still be cached; storing the event must fail all the same.
    const during = await post(second);
    expect(during.status).toBe(503);
    expect(during.body.error?.message).toMatch(/event store is unavailable/);

    postgres.resume();
    await eventually(() => post(second), (r) => r.status === 200, 30_000);
    await eventually(() => inboxCounts(db, ws), (c) => c.pending === 0 && c.processed === 2, 30_000);
    expect((await eventsOf()).map((e) => e.eventId)).toEqual([first.id, secondEvent.id]);
  });
});
