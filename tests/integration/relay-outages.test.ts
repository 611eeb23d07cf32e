import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import { inboxCounts } from '../../db/inbox';
import type { Db } from '../../db/knex';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { InboxRelay } from '../../workers/relay';
import { ensureSearchAttributes } from '../../workers/search-attributes';
import { createWorker } from '../../workers/worker';
import { customerWorkflowId } from '../../workflows/ids';
import { recentEventsQuery } from '../../workflows/messages';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { mirrorOpenInvoice } from '../helpers/mirror';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';
import { eventually, playActivities, quietTemporalRuntime, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';
import { freePort } from '../setup/ports';
import { restartTemporalDevServer, startTemporalDevServerOnFreePort, type TemporalDevServer } from '../setup/temporal-server';
import { inject } from 'vitest';

const log = pino({ level: 'silent' });
const keyring = parseKeyring(generateKeySpec());
const secret = 'whsec_outage';

/**
 * Mirrors an open invoice of Stripe's example subscription, which every subscription
 * event here is about, so that its end reaches the customer's workflow.
 */
const subscriptionWithOpenInvoice = (db: Db, workspaceId: string) => mirrorOpenInvoice(db, workspaceId, 'cus_any', stripeFixture('subscription').id as string);

function eventFor(customer: string, type = 'invoice.payment_failed') {
  const object = { ...stripeFixture(type.startsWith('invoice') ? 'invoice' : 'subscription'), customer };
  const event = stripeEvent(type, object);
  return { id: event.id as string, body: JSON.stringify(event) };
}

async function postEvent(api: TestApi, workspaceId: string, body: string) {
  const res = await fetch(`${api.url}/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secret) }, body });
  return { status: res.status, body: (await res.json()) as { duplicate?: boolean } };
}

describe('relay survives Temporal being down', () => {
  let dir: string;
  let temporal: TemporalDevServer;
  let port: number;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let clientConnection: Connection;
  let client: Client;
  let native: NativeConnection;
  let relay: InboxRelay;
  let stopWorker: () => Promise<void>;
  const ws = 'ws_outage';

  beforeAll(async () => {
    quietTemporalRuntime();
    dir = mkdtempSync(path.join(os.tmpdir(), 'wysera-outage-'));
    temporal = await startTemporalDevServerOnFreePort(path.join(dir, 'temporal.db'));
    port = temporal.port;
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Outage', webhookSecret: secret });
    await subscriptionWithOpenInvoice(database.db, ws);
    clientConnection = await Connection.connect({ address: temporal.address });
    await ensureSearchAttributes(clientConnection, 'default');
    client = new Client({ connection: clientConnection });
    native = await NativeConnection.connect({ address: temporal.address });
    const taskQueue = uniqueTaskQueue('outage');
    const worker = await createWorker({ connection: native, client, namespace: 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities: playActivities(database.db, keyring) } });
    const running = worker.run();
    stopWorker = async () => {
      worker.shutdown();
      await running;
    };
    relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client, taskQueue, log, pollMs: 100, retryBaseMs: 200, callTimeoutMs: 2000 });
    relay.start();
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await relay?.stop();
    await stopWorker?.();
    await native?.close();
    await clientConnection?.close();
    await temporal?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const eventsOf = (customer: string) => client.workflow.getHandle(customerWorkflowId(ws, customer)).query(recentEventsQuery);

  it('accepts events while Temporal is stopped and delivers each exactly once after it restarts', async () => {
    const first = eventFor('cus_out1', 'customer.subscription.deleted');
    expect((await postEvent(api, ws, first.body)).status).toBe(200);
    await eventually(() => eventsOf('cus_out1'), (e) => e.length === 1);

    await temporal.stop();
    const during = [eventFor('cus_out1'), eventFor('cus_out2'), eventFor('cus_out1', 'invoice.payment_succeeded')];
    for (const e of during) expect((await postEvent(api, ws, e.body)).status).toBe(200);
    // Stripe retrying during the outage changes nothing.
    expect((await postEvent(api, ws, during[0]!.body)).body.duplicate).toBe(true);
    // The relay tried, failed and keeps the events for later.
    await eventually(
      () => database.db('webhook_inbox').where({ event_id: during[0]!.id }).first<{ attempts: number; status: string }>(),
      (row) => (row?.attempts ?? 0) >= 1 && row?.status === 'pending',
    );

    temporal = await restartTemporalDevServer({ port }, path.join(dir, 'temporal.db'));
    await eventually(() => inboxCounts(database.db, ws), (c) => c.pending === 0, 60_000);
    expect((await eventsOf('cus_out1')).map((e) => e.eventId)).toEqual([first.id, during[0]!.id, during[2]!.id]);
    expect((await eventsOf('cus_out2')).map((e) => e.eventId)).toEqual([during[1]!.id]);
  });
});

describe('relay survives its worker being killed', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let clientConnection: Connection;
  let client: Client;
  const workers: ChildProcess[] = [];
  const ws = 'ws_kill';
  const taskQueue = uniqueTaskQueue('kill');

  /** A real worker process, as an operator runs it. */
  function startWorkerProcess(metricsPort = 0, extraEnv: Record<string, string> = {}, stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
    // One process (node with tsx's loader), so SIGKILL really kills the worker.
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: path.resolve(__dirname, '../..'),
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        WYSERA_ENCRYPTION_KEYS: generateKeySpec(),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: taskQueue,
        WORKER_METRICS_PORT: String(metricsPort),
        RELAY_POLL_MS: '50',
        LOG_LEVEL: 'warn',
        ...extraEnv,
      },
      stdio: ['ignore', stdout, 'inherit'],
    });
    workers.push(child);
    return child;
  }

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Kill', webhookSecret: secret });
    await subscriptionWithOpenInvoice(database.db, ws);
    clientConnection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection: clientConnection });
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await api?.close();
    await clientConnection?.close();
    await database?.drop();
  });

  it('loses and doubles nothing when the worker dies with kill -9 mid-stream', async () => {
    const customers = ['cus_k1', 'cus_k2', 'cus_k3', 'cus_k4'];
    const sent = new Map<string, string[]>(customers.map((c) => [c, []]));
    const first = startWorkerProcess();
    for (let i = 0; i < 40; i++) {
      const customer = customers[i % customers.length]!;
      // A type the plays act on, so that every event must reach the workflow once.
      const e = eventFor(customer, 'customer.subscription.deleted');
      sent.get(customer)!.push(e.id);
      expect((await postEvent(api, ws, e.body)).status).toBe(200);
      if (i === 20) {
        // Let the first worker deliver some, then kill it without warning.
        await eventually(() => inboxCounts(database.db, ws), (c) => c.processed > 0, 60_000);
        first.kill('SIGKILL');
      }
    }
    const left = (await inboxCounts(database.db, ws)).pending;
    expect(left).toBeGreaterThan(0);
    const metricsPort = await freePort();
    const sdkMetricsPort = await freePort();
    // A cache of two workflows for the four customers: the SDK's own figures show it held.
    startWorkerProcess(metricsPort, { WORKER_MAX_CACHED_WORKFLOWS: '2', TEMPORAL_SDK_METRICS_PORT: String(sdkMetricsPort) });
    await eventually(() => inboxCounts(database.db, ws), (c) => c.pending === 0 && c.processed === 40, 90_000);
    // The relay runs on its own thread: its figures are in the process's /metrics, Node's own once.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(Number(/^wysera_relay_events_total\{type="customer.subscription.deleted",outcome="processed"\} (\d+)$/m.exec(metrics)?.[1])).toBe(left);
    expect(metrics).toMatch(/^wysera_relay_event_loop_delay_seconds\{stat="p99"\} [\d.e+-]+$/m);
    expect(metrics).toMatch(/^wysera_relay_pass_events_count [1-9]\d*$/m);
    expect(metrics.match(/^process_cpu_user_seconds_total /gm)).toHaveLength(1);
    expect(metrics).toMatch(/^wysera_inbox_pending 0$/m);
    for (const customer of customers) {
      const events = await client.workflow.getHandle(customerWorkflowId(ws, customer)).query(recentEventsQuery);
      expect(events.map((e) => e.eventId)).toEqual(sent.get(customer));
    }
    // The four customers' workflows ran (the queries above) in a cache of two.
    const sdkMetrics = await (await fetch(`http://127.0.0.1:${sdkMetricsPort}/metrics`)).text();
    const sdkFigure = (name: string) => [...sdkMetrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(sdkFigure('temporal_sticky_cache_size')).toBeLessThanOrEqual(2);
    expect(sdkFigure('temporal_sticky_cache_total_forced_eviction')).toBeGreaterThan(0);
  });

  // Per-thread priorities are a Linux feature; elsewhere the worker logs that it runs at one.
  it.runIf(process.platform === 'linux')('keeps its relay thread at its own priority and runs every other thread (the plays) below it', async () => {
    const worker = startWorkerProcess(0, { LOG_LEVEL: 'info', WORKER_PLAYS_NICE: '7' }, 'pipe');
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    const logged = await new Promise<{ relayThread: number; lowered: number; by: number }>((resolve, reject) => {
      let out = '';
      worker.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const line = out.split('\n').find((l) => l.includes('"plays run below the relay"'));
        if (line) resolve(JSON.parse(line) as { relayThread: number; lowered: number; by: number });
      });
      worker.once('exit', (code) => reject(new Error(`the worker exited (${code}) before saying how it set its threads`)));
    });
    // The worker inherits this process's priority; its relay keeps it.
    const base = os.getPriority();
    const threads = readdirSync(`/proc/${worker.pid}/task`).map(Number);
    expect(logged.by).toBe(7);
    expect(threads).toContain(logged.relayThread);
    expect(logged.lowered).toBeGreaterThan(5);
    expect(os.getPriority(logged.relayThread)).toBe(base);
    // The main thread (the SDK's, which runs the activities), the workflow threads, the SDK core's.
    expect(os.getPriority(worker.pid)).toBe(Math.min(19, base + 7));
    for (const tid of threads.filter((t) => t !== logged.relayThread)) expect(os.getPriority(tid)).toBe(Math.min(19, base + 7));
    // Both sides still work: an event a play acts on goes through the relay into its workflow.
    const e = eventFor('cus_k6', 'customer.subscription.deleted');
    expect((await postEvent(api, ws, e.body)).status).toBe(200);
    await eventually(() => database.db('webhook_inbox').where({ event_id: e.id }).first<{ status: string }>(), (row) => row?.status === 'processed', 60_000);
    const events = await client.workflow.getHandle(customerWorkflowId(ws, 'cus_k6')).query(recentEventsQuery);
    expect(events.map((r) => r.eventId)).toEqual([e.id]);
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('stops on SIGTERM with its relay thread, and exits 0', async () => {
    const metricsPort = await freePort();
    const worker = startWorkerProcess(metricsPort);
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    await eventually(
      () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()),
      (text) => /^wysera_relay_event_loop_delay_seconds/m.test(text),
      60_000,
    );
    const e = eventFor('cus_k5', 'customer.subscription.deleted');
    expect((await postEvent(api, ws, e.body)).status).toBe(200);
    await eventually(() => database.db('webhook_inbox').where({ event_id: e.id }).first<{ status: string }>(), (row) => row?.status === 'processed', 60_000);
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
