import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { createActivities } from '../activities';
import { StripeClients, stripeEndpointFromEnv } from '../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../activities/stripe-reader';
import { createSyncActivities } from '../activities/sync';
import { createWorkspaceSenders } from '../activities/workspace-senders';
import { createDb } from '../db/knex';
import { pendingMigrations } from '../db/migrations';
import { emailFromEnv } from '../email/from-env';
import { ConfigError, loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import { inboxBacklog } from '../db/inbox';
import { createMetrics, observePoolWaits, registerInboxGauges } from '../platform/metrics';
import { serveMetrics } from './metrics-server';
import { startChurnRadar, startExpansionScan, startRenewalScan } from './play-scans';
import { startInboxRetention, startProductSignalRetention, startSeatChangeRetention } from './retention';
import { createMirrorRefetch } from './mirror-refetch';
import { startCatchUp } from './catch-up';
import { startRelayThread } from './relay-host';
import { lowerOtherThreads } from '../platform/thread-priority';
import { ensureSearchAttributes } from './search-attributes';
import { untilReady } from './until-ready';
import { createWorker } from './worker';

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
    ...(config.TEMPORAL_SDK_METRICS_PORT
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `${config.HOST}:${config.TEMPORAL_SDK_METRICS_PORT}` } } } }
      : {}),
  });
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  // The API applies migrations as it starts; a worker started beside it (or before it,
  // in a deploy) would otherwise write to a schema older than its code.
  await untilReady(log, 'the database schema', async () => {
    const pending = await pendingMigrations(db);
    if (pending.length > 0) throw new Error(`migrations not applied yet: ${pending.join(', ')} (npm run migrate, or start the API)`);
  });
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
    keyring: config.WYSERA_ENCRYPTION_KEYS,
    log: log.child({ component: 'activities' }),
    stripe: createStripeReader(workspaceStripeClients(db, config.WYSERA_ENCRYPTION_KEYS, stripeClients)),
    email: email.sender,
    senders: createWorkspaceSenders({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, fallback: email.sender, endpoints: email.endpoints }),
    ...(email.defaultFrom ? { defaultFrom: { fromEmail: email.defaultFrom, fromName: null, replyTo: null } } : {}),
  });
  const metrics = createMetrics();
  const syncActivities = createSyncActivities({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, stripe: stripeClients, client, log: log.child({ component: 'sync' }), metrics });
  const worker = await createWorker({
    connection,
    client,
    namespace,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    overrides: {
      activities: { ...activities, ...syncActivities },
      ...(config.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS } : {}),
    },
  });
  observePoolWaits(metrics, db, 'activities');
  registerInboxGauges(metrics, () => inboxBacklog(db));
  const retention =
    config.INBOX_RETENTION_DAYS > 0 ? startInboxRetention({ db, log: log.child({ component: 'inbox-retention' }), metrics, retentionDays: config.INBOX_RETENTION_DAYS }) : undefined;
  const signalRetention =
    config.PRODUCT_SIGNALS_RETENTION_DAYS > 0
      ? startProductSignalRetention({ db, log: log.child({ component: 'signal-retention' }), metrics, retentionDays: config.PRODUCT_SIGNALS_RETENTION_DAYS })
      : undefined;
  const seatRetention = startSeatChangeRetention({ db, log: log.child({ component: 'seat-change-retention' }) });
  const catchUp = startCatchUp({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, stripe: stripeClients, log: log.child({ component: 'catch-up' }) });
  const radar =
    config.CHURN_RADAR_INTERVAL_MINUTES > 0
      ? startChurnRadar({ db, client, taskQueue: config.TEMPORAL_TASK_QUEUE, log: log.child({ component: 'churn-radar' }), metrics, everyMs: config.CHURN_RADAR_INTERVAL_MINUTES * 60_000 })
      : undefined;
  const expansion =
    config.EXPANSION_SCAN_INTERVAL_MINUTES > 0
      ? startExpansionScan({ db, client, taskQueue: config.TEMPORAL_TASK_QUEUE, log: log.child({ component: 'expansion-scan' }), metrics, everyMs: config.EXPANSION_SCAN_INTERVAL_MINUTES * 60_000 })
      : undefined;
  const renewals =
    config.RENEWAL_SCAN_INTERVAL_MINUTES > 0
      ? startRenewalScan({ db, client, taskQueue: config.TEMPORAL_TASK_QUEUE, log: log.child({ component: 'renewal-scan' }), metrics, everyMs: config.RENEWAL_SCAN_INTERVAL_MINUTES * 60_000 })
      : undefined;
  const relay = await startRelayThread({
    log,
    refetch: createMirrorRefetch({ db, keyring: config.WYSERA_ENCRYPTION_KEYS, stripe: stripeClients }),
    // Without its relay the worker would leave the inbox unread: exit, so that a
    // supervisor restarts both (the worker's tasks are retried by Temporal).
    onFailure: () => process.exit(1),
  });
  // After every thread the plays use has started: threads these start later inherit the lower priority.
  const lowered = config.WORKER_PLAYS_NICE > 0 && relay.threadId !== undefined ? lowerOtherThreads([relay.threadId], config.WORKER_PLAYS_NICE) : undefined;
  if (lowered !== undefined) log.info({ relayThread: relay.threadId, lowered, by: config.WORKER_PLAYS_NICE }, 'plays run below the relay');
  else if (config.WORKER_PLAYS_NICE > 0) log.info('thread priorities are not set on this platform: the plays run at the relay\'s priority');
  // The relay's figures (its steps, its pool's waits) added to the process's own.
  const scraped = {
    contentType: metrics.registry.contentType,
    metrics: async () => AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), await relay.metrics()]).metrics(),
  };
  const metricsServer = await serveMetrics(scraped, config.HOST, config.WORKER_METRICS_PORT);
  log.info({ url: `http://${config.HOST}:${(metricsServer.address() as AddressInfo).port}/metrics` }, 'worker metrics listening');
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, namespace }, 'worker running');
  // The SDK's runtime shuts the worker down on SIGINT/SIGTERM; run() then resolves.
  try {
    await worker.run();
  } finally {
    await relay.stop();
    await retention?.stop();
    await signalRetention?.stop();
    await seatRetention.stop();
    await catchUp.stop();
    await radar?.stop();
    await expansion?.stop();
    await renewals?.stop();
    metricsServer.close();
    await Promise.allSettled([db.destroy(), connection.close(), clientConnection.close()]);
    log.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
