import type { Server } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApi } from '../../api/app';
import { serveOnLoopback } from '../setup/loopback';
import { healthRouter } from '../../api/health';
import { createDb, type Knex } from '../../db/knex';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { createTemporalClient } from '../../platform/temporal';
import { freshDatabase } from '../helpers/db';
import { strayErrors } from '../helpers/stray-errors';
import { inject } from 'vitest';

async function serve(db: Knex, temporalAddress: string) {
  const { connection } = createTemporalClient({ TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: 'default' });
  const api = createApi({ db, temporal: connection, keyring: parseKeyring(generateKeySpec()), log: pino({ level: 'silent' }), metrics: createMetrics(), webhookMaxBytes: 1024 });
  const { server, url } = await serveOnLoopback(api.serve);
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

/** Only the readiness route, with a short deadline, over the API's own Temporal connection. */
async function serveProbe(db: Knex, temporalAddress: string, timeoutMs: number) {
  const { connection } = createTemporalClient({ TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: 'default' });
  const app = express().use(healthRouter({ db, temporal: connection, timeoutMs }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  return {
    readyz: async () => {
      const res = await fetch(url);
      return { status: res.status, body: (await res.json()) as { unavailable: string[]; checks: { temporal: { error?: string } } } };
    },
    close: async () => {
      await new Promise((r) => server.close(r));
      await connection.close();
    },
  };
}

/** A TCP port that accepts connections and never answers: a Temporal that hangs. */
async function silentPort(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
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

  // A refused call fails at once and the Temporal client retries it with backoff. A probe must
  // not leave such a retry pending (once the connection closes, it throws from its timer): its
  // call ends with the refusal itself, not cut by the probe's deadline.
  it('leaves no retry behind when Temporal refuses and the connection closes right after the probe', async () => {
    const errors = await strayErrors(1500, async () => {
      const api = await serveProbe(database.db, '127.0.0.1:1', 300);
      try {
        const ready = await api.readyz();
        expect(ready.status).toBe(503);
        expect(ready.body.unavailable).toEqual(['temporal']);
        expect(ready.body.checks.temporal.error).toMatch(/^14 UNAVAILABLE/);
      } finally {
        await api.close();
      }
    });
    expect(errors).toEqual([]);
  });

  it('answers within its deadline when Temporal hangs, and leaves nothing behind', async () => {
    const silent = await silentPort();
    try {
      const errors = await strayErrors(1000, async () => {
        const api = await serveProbe(database.db, silent.address, 300);
        try {
          const started = Date.now();
          const ready = await api.readyz();
          expect(Date.now() - started).toBeLessThan(1300);
          expect(ready.status).toBe(503);
          expect(ready.body.unavailable).toEqual(['temporal']);
          expect(ready.body.checks.temporal.error).toMatch(/DEADLINE_EXCEEDED|did not answer within 300 ms/);
        } finally {
          await api.close();
        }
      });
      expect(errors).toEqual([]);
    } finally {
      await silent.close();
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
