import { pino } from 'pino';
import type { Keyring } from '../../platform/crypto';
import { InboxRelay } from '../../workers/relay';
import { startApi, type TestApi } from './api';
import { freshDatabase } from './db';
import { signatureFor } from './stripe';
import { connectDevServer, runWorker, uniqueTaskQueue, type DevServer } from './temporal';

export interface IngressStack {
  database: Awaited<ReturnType<typeof freshDatabase>>;
  temporal: DevServer;
  api: TestApi;
  /** Posts a Stripe event to a workspace's webhook endpoint, signed with `secret`. */
  postEvent(workspaceId: string, secret: string, event: unknown): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The whole ingress path on real services: a database of its own, the API, a worker
 * on the run's Temporal dev server and the inbox relay. `prepare` runs on the fresh
 * database before anything reads it (workspaces, mirror rows).
 */
export async function startIngressStack(keyring: Keyring, prepare: (db: IngressStack['database']['db']) => Promise<void> = () => Promise.resolve()): Promise<IngressStack> {
  const database = await freshDatabase();
  await prepare(database.db);
  const temporal = await connectDevServer();
  const taskQueue = uniqueTaskQueue('ingress');
  const worker = await runWorker(temporal, taskQueue, { db: database.db, keyring });
  const relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue, log: pino({ level: 'silent' }), pollMs: 50 });
  relay.start();
  const api = await startApi(database.db, keyring);
  return {
    database,
    temporal,
    api,
    postEvent: (workspaceId, secret, event) => {
      const body = JSON.stringify(event);
      return fetch(`${api.url}/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secret) }, body });
    },
    close: async () => {
      await api.close();
      await relay.stop();
      await worker.stop();
      await temporal.close();
      await database.drop();
    },
  };
}
