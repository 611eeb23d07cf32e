import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApi } from '../../api/app';
import { serveOnLoopback } from '../setup/loopback';
import { inboxCounts } from '../../db/inbox';
import { insertWorkspace, type Workspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { InboxRelay } from '../../workers/relay';
import type { dunningWorkflow } from '../../workflows/dunning';
import { customerWorkflowId, dunningWorkflowId } from '../../workflows/ids';
import { recentEventsQuery } from '../../workflows/messages';
import { freshDatabase } from '../helpers/db';
import { mirrorOpenInvoice } from '../helpers/mirror';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';
import { connectDevServer, eventually, runWorker, uniqueTaskQueue, type DevServer } from '../helpers/temporal';

/**
 * The vertical slice through the real stack: a signed Stripe webhook is posted to
 * the API, stored in the inbox in Postgres, relayed with signalWithStart to the
 * customer's workflow on the Temporal dev server, and read back with a query.
 */
describe('webhook → inbox → relay → customer workflow', () => {
  const secret = 'whsec_slice_test_secret';
  const keyring = parseKeyring(generateKeySpec());
  const log = pino({ level: 'silent' });
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let worker: Awaited<ReturnType<typeof runWorker>>;
  let relay: InboxRelay;
  let server: Server;
  let baseUrl: string;
  let workspace: Workspace;

  beforeAll(async () => {
    database = await freshDatabase();
    workspace = await insertWorkspace(database.db, keyring, { name: 'Acme', webhookSecret: secret });
    temporal = await connectDevServer();
    const taskQueue = uniqueTaskQueue('slice');
    worker = await runWorker(temporal, taskQueue, { db: database.db, keyring });
    relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue, log, pollMs: 200 });
    relay.start();
    const api = createApi({ db: database.db, temporal: temporal.clientConnection, keyring, log, metrics: createMetrics(), webhookMaxBytes: 64 * 1024 });
    ({ server, url: baseUrl } = await serveOnLoopback(api.serve));
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await relay?.stop();
    await worker?.stop();
    await temporal?.close();
    await database?.drop();
  });

  const post = (body: string, headers: Record<string, string> = { 'stripe-signature': signatureFor(body, secret) }, workspaceId = workspace.id) =>
    fetch(`${baseUrl}/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  const recentEvents = (customerId: string) =>
    temporal.client.workflow.getHandle(customerWorkflowId(workspace.id, customerId)).query(recentEventsQuery);

  it('delivers a signed event to the customer workflow exactly once, even when posted twice', async () => {
    const subscription: Record<string, unknown> = { ...stripeFixture('subscription'), id: 'sub_slice1', customer: 'cus_slice1' };
    // A subscription's end with an invoice of it unpaid (one a dunning may be working on):
    // the plays act on it, so it reaches the workflow.
    await mirrorOpenInvoice(database.db, workspace.id, 'cus_slice1', 'sub_slice1');
    const event = stripeEvent('customer.subscription.deleted', subscription);
    const body = JSON.stringify(event);

    const first = await post(body);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });

    const events = await eventually(() => recentEvents('cus_slice1'), (e) => e.length === 1);
    expect(events[0]).toMatchObject({ eventId: event.id, type: 'customer.subscription.deleted', objectId: subscription.id });

    // Stripe retries with a fresh signature; the body is the same event.
    const second = await post(body);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ received: true, duplicate: true });

    const rows = await database.db<{ status: string; workspace_id: string; event_id: string }>('webhook_inbox').where({ workspace_id: workspace.id, event_id: event.id as string });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('processed');
    await eventually(() => inboxCounts(database.db, workspace.id), (c) => c.pending === 0);
    expect(await recentEvents('cus_slice1')).toHaveLength(1);
  });

  it('keeps one customer’s events in arrival order, and wakes its plays only for those they act on', async () => {
    const forPlays: string[] = [];
    const types = ['customer.subscription.created', 'invoice.payment_failed', 'customer.subscription.updated', 'invoice.payment_succeeded', 'customer.subscription.deleted'];
    for (const type of types) {
      const object = { ...stripeFixture(type.startsWith('invoice') ? 'invoice' : 'subscription'), customer: 'cus_order' };
      const event = stripeEvent(type, object);
      // The payments; not the subscription's end: the mirror holds no invoice of that
      // subscription (Stripe's example invoice, the only one here, names another).
      if (type.startsWith('invoice.')) forPlays.push(event.id as string);
      expect((await post(JSON.stringify(event))).status).toBe(200);
    }
    const events = await eventually(() => recentEvents('cus_order'), (e) => e.length === forPlays.length);
    expect(events.map((e) => e.eventId)).toEqual(forPlays);
    await eventually(() => inboxCounts(database.db, workspace.id), (c) => c.pending === 0);
    // Every event is done: nothing more reached the workflow (the subscription's end did not).
    expect((await recentEvents('cus_order')).map((e) => e.eventId)).toEqual(forPlays);
    // The failed payment began a dunning, on the worker's real activities: with no
    // Stripe key in this workspace it waited for one, and the payment ended it.
    const dunning = temporal.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(workspace.id, stripeFixture('invoice').id as string));
    expect(await dunning.result()).toEqual({ outcome: 'recovered', sentSteps: [] });
    expect(((await dunning.fetchHistory()).events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  });

  it('records event types the plays do not use and marks them ignored', async () => {
    const event = stripeEvent('customer.created', { ...stripeFixture('customer'), id: 'cus_ignored' });
    expect((await post(JSON.stringify(event))).status).toBe(200);
    const row = await eventually(
      () => database.db<{ status: string; type: string; event_id: string }>('webhook_inbox').where({ event_id: event.id as string }).first(),
      (r) => r?.status === 'ignored',
    );
    expect(row?.type).toBe('customer.created');
  });

  it('rejects what it cannot verify and stores nothing for it', async () => {
    const body = JSON.stringify(stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_bad' }));
    const before = await database.db('webhook_inbox').count<{ count: string }[]>('* as count');
    const cases: [Promise<Response>, number, RegExp][] = [
      [post(body, {}), 400, /missing Stripe-Signature/],
      [post(body, { 'stripe-signature': signatureFor(body, 'whsec_wrong') }), 400, /signature verification failed/],
      [post(body, { 'stripe-signature': signatureFor(body, secret, Math.floor(Date.now() / 1000) - 3600) }), 400, /tolerance/i],
      [post(body, undefined, 'ws_doesnotexist'), 404, /unknown workspace ws_doesnotexist/],
      [post('not json', { 'stripe-signature': signatureFor('not json', secret) }), 400, /not JSON/],
      // A forged body is not even parsed: its signature is what it fails on.
      [post('not json', { 'stripe-signature': signatureFor('not json', 'whsec_wrong') }), 400, /signature verification failed/],
      [post('x'.repeat(70 * 1024)), 413, /larger than the limit/],
    ];
    for (const [response, status, message] of cases) {
      const res = await response;
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    const after = await database.db('webhook_inbox').count<{ count: string }[]>('* as count');
    expect(after[0]!.count).toBe(before[0]!.count);
  });
});
