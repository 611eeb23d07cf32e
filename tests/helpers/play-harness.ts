import { pino } from 'pino';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { OutreachScanDeps } from '../../activities/outreach-scan';
import { StripeClients } from '../../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../../activities/stripe-reader';
import { createApiToken } from '../../db/api-tokens';
import type { Db } from '../../db/knex';
import { insertWorkspace } from '../../db/workspaces';
import { createSendGridSender } from '../../email/sendgrid';
import { generateKeySpec, parseKeyring, type Keyring } from '../../platform/crypto';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import { createWorker } from '../../workers/worker';
import { startApi, type TestApi } from './api';
import { freshDatabase } from './db';
import { connectDevServer, uniqueTaskQueue, workflowBundle, type DevServer } from './temporal';

/** A workspace with the real plays running: Postgres, a worker on the Temporal dev server with the real activities, the API, and email to the local receiver. */
export interface PlayHarness {
  keyring: Keyring;
  db: Db;
  temporal: DevServer;
  receiver: EmailReceiver;
  api: TestApi;
  /** What a play's scan needs (activities/outreach-scan.ts). */
  scan: OutreachScanDeps;
  tokens: { owner: string; member: string; viewer: string };
  /** Terminates the given workflows (a play's, still waiting), then stops everything. */
  close(workflowIds: () => Promise<string[]>): Promise<void>;
}

/**
 * Starts the harness for workspace `ws` (named "Acme Analytics", sending from
 * `fromEmail`), seeded by `seed` before anything runs.
 */
export async function startPlayHarness(ws: string, opts: { fromEmail: string; seed(db: Db, keyring: Keyring): Promise<void> }): Promise<PlayHarness> {
  const keyring = parseKeyring(generateKeySpec());
  // What has started, stopped in reverse order by close() or when setup fails partway (no database or server left behind).
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const database = await freshDatabase();
    stops.push(() => database.drop());
    const { db } = database;
    const receiver = await startEmailReceiver();
    stops.push(() => receiver.close());
    await insertWorkspace(db, keyring, { id: ws, name: 'Acme Analytics', webhookSecret: `whsec_${ws}` });
    await opts.seed(db, keyring);
    const token = async (role: 'owner' | 'member' | 'viewer') => (await createApiToken(db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    const tokens = { owner: await token('owner'), member: await token('member'), viewer: await token('viewer') };
    const temporal = await connectDevServer();
    stops.push(() => temporal.close());
    const taskQueue = uniqueTaskQueue(ws);
    const log = pino({ level: 'silent' });
    const activities = createActivities({
      db,
      keyring,
      log,
      stripe: createStripeReader(workspaceStripeClients(db, keyring, new StripeClients())),
      email: createSendGridSender({ apiKey: `SG.${ws}`, baseUrl: receiver.url }),
    });
    const worker: Worker = await createWorker({ connection: temporal.nativeConnection, client: temporal.client, namespace: 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities } });
    const running = worker.run();
    stops.push(() => {
      worker.shutdown();
      return running;
    });
    const api = await startApi(db, keyring, { taskQueue });
    stops.push(() => api.close());
    const sender = await api.request('PUT', `/workspaces/${ws}/email-settings`, { token: tokens.owner, body: { fromEmail: opts.fromEmail, fromName: 'Acme' } });
    if (sender.status !== 200) throw new Error(`the harness could not set the sender: ${JSON.stringify(sender.body)}`);
    return {
      keyring,
      db,
      temporal,
      receiver,
      api,
      scan: { db, client: temporal.client, taskQueue, log },
      tokens,
      async close(workflowIds) {
        for (const id of await workflowIds()) await temporal.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
