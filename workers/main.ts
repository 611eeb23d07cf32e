import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { createActivities } from '../activities';
import { StripeClients, stripeEndpointFromEnv } from '../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../activities/stripe-reader';
import { createSyncActivities } from '../activities/sync';
import { createWorkspaceSenders } from '../activities/workspace-senders';
import { createDb } from '../db/knex';
import { emailFromEnv } from '../email/from-env';
import { ConfigError, loadConfig } from '../platform/config';
import { createLogger, type Logger } from '../platform/logger';
import type { AddressInfo } from 'node:net';
import { inboxBacklog } from '../db/inbox';
import { createMetrics, observePoolWaits, registerInboxGauges } from '../platform/metrics';
import { serveMetrics } from './metrics-server';
import { createMirrorRefetch } from './mirror-refetch';
import { InboxRelay } from './relay';
import { ensureSearchAttributes } from './search-attributes';
import { createWorker } from './worker';

/** Retries `fn` until it succeeds, logging each failure: Temporal may still be starting. */
async function untilReady<T>(log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = Math.min(10_000, 500 * attempt);
      log.warn({ attempt, retryInMs: delay, err: (err as Error).message }, `waiting for ${what}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The worker process: runs the workflows and the inbox relay. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'wysera-worker');
  // The SDK's own logs go through the same structured logger.
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const sdkLevel: LogLevel = config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'INFO';
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, ({ level, message, meta }) => {
      const method = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : level === 'INFO' ? 'info' : 'debug';
      sdkLog[method](meta ?? {}, message);
    }),
  });
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const address = config.TEMPORAL_ADDRESS;
  const namespace = config.TEMPORAL_NAMESPACE;

  const clientConnection = await untilReady(log, `Temporal at ${address}`, () => Connection.connect({ address }));
  const added = await untilReady(log, 'search attributes', () => ensureSearchAttributes(clientConnection, namespace));
  if (added.length) log.info({ added }, 'registered search attributes');
  const client = new Client({ connection: clientConnection, namespace });
  const connection = await untilReady(log, `Temporal at ${address}`, () => NativeConnection.connect({ address }));

  // One StripeClients per process: every Stripe call for a workspace shares its rate limiter.
  const stripeClients = new StripeClients({ endpoint: stripeEndpointFromEnv() });
  const email = emailFromEnv();
  const activities = createActivities({
    db,
    log: log.child({ component: 'activities' }),
    stripe: createStripeReader(workspaceStripeClients(db, config.WYSERA_ENCRYPTION_KEYS, stripeClients)),
    email: email.sender,
    senders: createWorkspaceSenders({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, fallback: email.sender, endpoints: email.endpoints }),
    ...(email.defaultFrom ? { defaultFrom: { fromEmail: email.defaultFrom, fromName: null, replyTo: null } } : {}),
  });
  const syncActivities = createSyncActivities({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, stripe: stripeClients, client, log: log.child({ component: 'sync' }) });
  const worker = await createWorker({ connection, client, namespace, taskQueue: config.TEMPORAL_TASK_QUEUE, overrides: { activities: { ...activities, ...syncActivities } } });
  const metrics = createMetrics();
  observePoolWaits(metrics, db);
  registerInboxGauges(metrics, () => inboxBacklog(db));
  const metricsServer = await serveMetrics(metrics.registry, config.HOST, config.WORKER_METRICS_PORT);
  log.info({ url: `http://${config.HOST}:${(metricsServer.address() as AddressInfo).port}/metrics` }, 'worker metrics listening');
  const relay = new InboxRelay({
    metrics,
    db,
    databaseUrl: config.DATABASE_URL,
    client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    log: log.child({ component: 'relay' }),
    pollMs: config.RELAY_POLL_MS,
    batchSize: config.RELAY_BATCH_SIZE,
    gatherMs: config.RELAY_GATHER_MS,
    refetch: createMirrorRefetch({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, stripe: stripeClients }),
  });
  relay.start();
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, namespace }, 'worker running');
  // The SDK's runtime shuts the worker down on SIGINT/SIGTERM; run() then resolves.
  try {
    await worker.run();
  } finally {
    await relay.stop();
    metricsServer.close();
    await Promise.allSettled([db.destroy(), connection.close(), clientConnection.close()]);
    log.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
