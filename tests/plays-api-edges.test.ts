import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiToken } from '../db/api-tokens';
import { seedMirror } from '../db/analytics-seed';
import { upsertCustomers } from '../db/mirror';
import { getPlaySettings, lockPlaySettings, putPlaySettings } from '../db/play-settings';
import { renewalNoteRows } from '../db/renewal-notes';
import { insertWorkspace } from '../db/workspaces';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { createTemporalClient } from '../platform/temporal';
import { startApi, type TestApi } from './helpers/api';
import { eventually } from './helpers/temporal';
import { freshDatabase } from './helpers/db';
import { contact, yearly } from './renewal/fixtures';

/**
 * The plays' owner routes where they meet trouble: two owners changing one play's
 * settings at once, and a look asked for while Temporal does not answer.
 */
describe("the plays' settings and scan routes under contention and outage", () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_play_edges';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let owner: string;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Edges', webhookSecret: 'whsec_edges' });
    owner = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    // Workflows started here go to a task queue no worker polls.
    api = await startApi(database.db, keyring, { taskQueue: 'play-edges-no-worker' });
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it("takes one settings change of a play at a time: a change of mode alone keeps a config saved while it waited", async () => {
    await putPlaySettings(database.db, ws, 'renewal', { rollout: { mode: 'review', autoPercentage: 100 }, config: { daysBefore: 30, offers: true } }, 'user:test');
    // Another owner's change holds the play's settings lock and writes a new config, not committed yet.
    const other = await database.db.transaction();
    try {
      await lockPlaySettings(other, ws, 'renewal');
      await putPlaySettings(other, ws, 'renewal', { rollout: { mode: 'review', autoPercentage: 100 }, config: { daysBefore: 45, offers: false } }, 'user:other');
      // Meanwhile a mode-only change: it must wait, then read the config as the other left it.
      const modeOnly = api.request('PUT', `/workspaces/${ws}/plays/renewal/settings`, { token: owner, body: { mode: 'auto' } });
      // Its request is waiting on the lock (Postgres says so) before the other commits.
      const waiting = () =>
        database.db
          .raw<{ rows: { count: number }[] }>(`select count(*)::int as count from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`)
          .then((r) => r.rows[0]!.count);
      await eventually(waiting, (n) => n === 1);
      await other.commit();
      const res = await modeOnly;
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ mode: 'auto', config: { daysBefore: 45, offers: false } });
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    expect(await getPlaySettings(database.db, ws, 'renewal')).toMatchObject({ rollout: { mode: 'auto' }, config: { daysBefore: 45, offers: false } });
  });

  it('answers 503 when a look cannot start its workflows, and the next look starts them', async () => {
    await putPlaySettings(database.db, ws, 'renewal', { rollout: { mode: 'review', autoPercentage: 100 }, config: { daysBefore: 30, offers: false } }, 'user:test');
    await seedMirror(database.db, ws, [yearly('cus_edge', 10)]);
    await upsertCustomers(database.db, ws, [contact('cus_edge', 'Eda Edge')], new Date(), keyring);
    // Temporal "at" a port nothing answers on: a closed listener's.
    const closed: Server = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const { connection: nowhere } = createTemporalClient({ TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_NAMESPACE: 'default' });
    const down = await startApi(database.db, keyring, { temporal: nowhere, taskQueue: 'play-edges-no-worker' });
    try {
      const res = await down.request('POST', `/workspaces/${ws}/renewals/scan`, { token: owner });
      expect(res.status).toBe(503);
      expect((res.body as { error: { message: string } }).error.message).toBe('the renewal play could not finish its look (Temporal or the database did not answer); try again shortly');
    } finally {
      await down.close();
      await nowhere.close();
    }
    // The note opened, its workflow not started: the next look, with Temporal up, starts it.
    const [note] = await renewalNoteRows.list(database.db, ws, { customerId: 'cus_edge', limit: 10 });
    expect(note).toMatchObject({ customerId: 'cus_edge', workflowStartedAt: null, outcome: null });
    const again = await api.request('POST', `/workspaces/${ws}/renewals/scan`, { token: owner });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ opened: 0, started: 1 });
    const [started] = await renewalNoteRows.list(database.db, ws, { customerId: 'cus_edge', limit: 10 });
    expect(started).toMatchObject({ id: note!.id, workflowStartedAt: expect.any(Date) as unknown });
    const temporal = createTemporalClient({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default' });
    try {
      await temporal.client.workflow.getHandle(started!.workflowId).terminate('test over');
    } finally {
      await temporal.connection.close();
    }
  });
});
