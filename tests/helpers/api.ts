import { pino } from 'pino';
import { createApi, type AppDeps } from '../../api/app';
import { serveOnLoopback } from '../setup/loopback';
import { createMetrics } from '../../platform/metrics';
import { createTemporalClient } from '../../platform/temporal';
import { inject } from 'vitest';
import type { Knex } from '../../db/knex';
import type { Keyring } from '../../platform/crypto';

export interface TestApi {
  url: string;
  request(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: unknown; text: string }>;
  close(): Promise<void>;
}

/** The real API on an ephemeral port, against the test database and the run's Temporal server. */
export async function startApi(db: Knex, keyring: Keyring, overrides: Partial<AppDeps> = {}): Promise<TestApi> {
  const { connection } = createTemporalClient({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default' });
  const api = createApi({ db, temporal: connection, keyring, log: pino({ level: 'silent' }), metrics: createMetrics(), webhookMaxBytes: 64 * 1024, ...overrides });
  const { server, url } = await serveOnLoopback(api.serve);
  return {
    url,
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON (CSV, HTML): keep the text
      }
      return { status: res.status, body, text };
    },
    async close() {
      await new Promise((r) => server.close(r));
      await connection.close();
    },
  };
}
