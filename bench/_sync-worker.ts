/**
 * A worker process that runs only the sync (workflow and activities), for the sync
 * benchmark: the benchmark kills it with SIGKILL mid-sync and starts another.
 * Environment: DATABASE_URL, TEMPORAL_ADDRESS, WYSERA_ENCRYPTION_KEYS,
 * STRIPE_API_BASE, BENCH_TASK_QUEUE, BENCH_WORKFLOW_BUNDLE (a prebuilt bundle file).
 */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { StripeClients, stripeEndpointFromEnv } from '../activities/stripe-client';
import { createAnalyticsActivities } from '../activities/analytics';
import { createSyncActivities } from '../activities/sync';
import { createDb } from '../db/knex';
import { parseKeyring } from '../platform/crypto';
import { createLogger } from '../platform/logger';
import { createWorker } from '../workers/worker';

const env = z
  .object({
    DATABASE_URL: z.string().min(1),
    TEMPORAL_ADDRESS: z.string().min(1),
    WYSERA_ENCRYPTION_KEYS: z.string().min(1),
    BENCH_TASK_QUEUE: z.string().min(1),
    BENCH_WORKFLOW_BUNDLE: z.string().min(1),
  })
  .parse(process.env);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const log = createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn', 'bench-sync-worker');
  const db = createDb(env.DATABASE_URL, 12);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: 'default' });
  const native = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const stripe = new StripeClients({ endpoint: stripeEndpointFromEnv() });
  const worker = await createWorker({
    connection: native,
    client,
    namespace: 'default',
    taskQueue: env.BENCH_TASK_QUEUE,
    overrides: {
      workflowBundle: { code: readFileSync(env.BENCH_WORKFLOW_BUNDLE, 'utf8') },
      activities: { ...createSyncActivities({ db, keyring: parseKeyring(env.WYSERA_ENCRYPTION_KEYS), stripe, client, log }), ...createAnalyticsActivities({ db }) },
      maxConcurrentActivityTaskExecutions: 32,
    },
  });
  process.stdout.write('ready\n');
  await worker.run();
  await Promise.allSettled([db.destroy(), native.close(), connection.close()]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
