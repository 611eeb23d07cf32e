import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../../api/app';
import { createDb, type Knex } from '../../db/knex';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { createTemporalClient } from '../../platform/temporal';
import { freshDatabase } from '../helpers/db';
import { inject } from 'vitest';

async function serve(db: Knex, temporalAddress: string) {
  const { connection } = createTemporalClient({ TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: 'default' });
  const app = createApp({ db, temporal: connection, keyring: parseKeyring(generateKeySpec()), log: pino({ level: 'silent' }), metrics: createMetrics(), webhookMaxBytes: 1024 });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get: async (path: string) => {
      const res = await fetch(url + path);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    close: async () => {
      await new Promise((r) => server.close(r));
      await connection.close();
    },
  };
}

describe('health and readiness against real services', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('is ready when Postgres and Temporal answer', async () => {
    const api = await serve(database.db, inject('temporalAddress'));
    try {
      expect(await api.get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
      const ready = await api.get('/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body.unavailable).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('names Temporal when it does not answer, and stays alive', async () => {
    // Nothing listens on port 1.
    const api = await serve(database.db, '127.0.0.1:1');
    try {
      const ready = await api.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.unavailable).toEqual(['temporal']);
      expect((await api.get('/healthz')).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('names Postgres when it does not answer', async () => {
    const badDb = createDb('postgres://wysera:wysera@127.0.0.1:1/nowhere', 1);
    const api = await serve(badDb, inject('temporalAddress'));
    try {
      const ready = await api.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.unavailable).toEqual(['postgres']);
    } finally {
      await api.close();
      await badDb.destroy();
    }
  });

  it('answers an unknown route with a JSON 404', async () => {
    const api = await serve(database.db, inject('temporalAddress'));
    try {
      expect(await api.get('/nope')).toEqual({ status: 404, body: { error: { status: 404, message: 'no route for GET /nope' } } });
    } finally {
      await api.close();
    }
  });
});
