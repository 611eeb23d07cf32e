import { Router } from 'express';
import type { Connection } from '@temporalio/client';
import type { Knex } from '../db/knex';

export interface HealthDeps {
  db: Knex;
  temporal: Connection;
  /** How long each dependency may take to answer a readiness probe. */
  timeoutMs?: number;
}

type Check = { ok: true } | { ok: false; error: string };

async function withTimeout(ms: number, what: string, fn: () => Promise<unknown>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`: the process is up. `/readyz`: Postgres and Temporal both answer. */
export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  const timeoutMs = deps.timeoutMs ?? 2000;

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [postgres, temporal] = await Promise.all([
      withTimeout(timeoutMs, 'Postgres', () => deps.db.raw('select 1')),
      withTimeout(timeoutMs, 'Temporal', () =>
        deps.temporal.withDeadline(Date.now() + timeoutMs, () => deps.temporal.workflowService.getSystemInfo({})),
      ),
    ]);
    const ready = postgres.ok && temporal.ok;
    const unavailable = [!postgres.ok && 'postgres', !temporal.ok && 'temporal'].filter(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', unavailable, checks: { postgres, temporal } });
  });
  return router;
}
