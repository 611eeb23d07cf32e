import type { Worker } from '@temporalio/worker';
import { createApi } from '../api/app';
import { serveOnLoopback } from './setup/loopback';
import { endpointOf, StripeClients } from '../activities/stripe-client';
import { createAnalyticsActivities } from '../activities/analytics';
import { createSyncActivities } from '../activities/sync';
import type { Knex } from '../db/knex';
import { generateKeySpec, parseKeyring, type Keyring } from '../platform/crypto';
import { createLogger } from '../platform/logger';
import { createMetrics } from '../platform/metrics';
import { startSimulator, type Simulator, type SimulatorOptions } from '../sim/server';
import { createWorker } from '../workers/worker';
import { freshDatabase } from './helpers/db';
import { connectDevServer, eventually, uniqueTaskQueue, workflowBundle, type DevServer } from './helpers/temporal';

export const OPERATOR_TOKEN = `op_${'k'.repeat(40)}`;

export interface SyncHarness {
  db: Knex;
  databaseUrl: string;
  /** The keyring spec, for worker processes that must open the sealed keys. */
  keySpec: string;
  sim: Simulator;
  server: DevServer;
  keyring: Keyring;
  stripe: StripeClients;
  taskQueue: string;
  baseUrl: string;
  /** JSON request to the API; `token` defaults to the operator token. */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: Record<string, unknown>; text: string }>;
  /** POST /workspaces as the operator (which starts the first sync unless `sync: false`): the new workspace and its owner's token. */
  createWorkspace(body: Record<string, unknown>): Promise<{ id: string; owner: string }>;
  /**
   * A workspace connected to the simulator's first account with its restricted key,
   * once its first sync has ended (a worker must be running): its id and owner token,
   * and the run as the API shows it.
   */
  syncedWorkspace(name: string, webhookSecret: string): Promise<{ id: string; owner: string; run: { status: string; error: string | null } }>;
  startWorker(): Promise<{ worker: Worker; stop(): Promise<void> }>;
  close(): Promise<void>;
}

/** Real Postgres, the shared Temporal dev server, the simulator and the API on a free port. */
export async function syncHarness(simOptions: SimulatorOptions, opts: { keySpec?: string } = {}): Promise<SyncHarness> {
  const { db, url: databaseUrl, drop } = await freshDatabase();
  const server = await connectDevServer();
  const sim = await startSimulator({ port: 0, ...simOptions });
  const keySpec = opts.keySpec ?? generateKeySpec();
  const keyring = parseKeyring(keySpec);
  const stripe = new StripeClients({ endpoint: endpointOf(sim.url) });
  const taskQueue = uniqueTaskQueue('sync');
  const log = createLogger('silent', 'test');
  const api = createApi({ db, temporal: server.clientConnection, keyring, log, metrics: createMetrics(), webhookMaxBytes: 1 << 20, operatorToken: OPERATOR_TOKEN, stripe, taskQueue });
  const { server: http, url: baseUrl } = await serveOnLoopback(api.serve);
  const workers: { stop(): Promise<void> }[] = [];
  const harness: SyncHarness = {
    db,
    databaseUrl,
    keySpec,
    sim,
    server,
    keyring,
    stripe,
    taskQueue,
    baseUrl,
    async call(method, path, body, token = OPERATOR_TOKEN) {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown>, text };
    },
    async createWorkspace(body) {
      const res = await harness.call('POST', '/workspaces', body);
      if (res.status !== 201) throw new Error(`POST /workspaces answered ${res.status}: ${res.text}`);
      return { id: (res.body.workspace as { id: string }).id, owner: res.body.ownerToken as string };
    },
    async syncedWorkspace(name, webhookSecret) {
      const { id, owner } = await harness.createWorkspace({ name, stripeKey: sim.accounts[0]!.restrictedKey, webhookSecret });
      type Run = { run?: { status: string; error: string | null } };
      const done = await eventually(async () => (await harness.call('GET', `/workspaces/${id}/sync`, undefined, owner)).body as Run, (b) => b.run !== undefined && b.run.status !== 'running', 90_000);
      return { id, owner, run: done.run! };
    },
    async startWorker() {
      const worker = await createWorker({
        connection: server.nativeConnection,
        client: server.client,
        namespace: 'default',
        taskQueue,
        overrides: { workflowBundle: await workflowBundle(), activities: { ...createSyncActivities({ db, keyring, stripe, client: server.client, log, progressEveryMs: 200 }), ...createAnalyticsActivities({ db }) } },
      });
      const running = worker.run();
      const handle = {
        worker,
        stop: async () => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        },
      };
      workers.push(handle);
      return handle;
    },
    async close() {
      for (const w of workers) await w.stop();
      await new Promise((r) => http.close(r));
      await sim.stop();
      await server.close();
      await drop();
    },
  };
  return harness;
}
