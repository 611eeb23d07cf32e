import { Router } from 'express';
import type { Connection } from '@temporalio/client';
import { grpc } from '@temporalio/proto';
import type { Knex } from '../db/knex';

export interface HealthDeps {
  db: Knex;
  /** The API's connection (platform/temporal.ts), on which health checks are never retried. */
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

const { ServingStatus } = grpc.health.v1.HealthCheckResponse;

/**
 * Asks Temporal's gRPC health service whether its workflow service serves. The check is one call
 * with the probe's deadline: a retry of it would outlive the probe (the probe asks again anyway).
 */
async function temporalServes(connection: Connection, deadline: number): Promise<void> {
  const { status } = await connection.withDeadline(deadline, () =>
    connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' }),
  );
  if (status !== ServingStatus.SERVING) throw new Error(`Temporal's workflow service is ${ServingStatus[status]}`);
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
      withTimeout(timeoutMs, 'Temporal', () => temporalServes(deps.temporal, Date.now() + timeoutMs)),
    ]);
    const ready = postgres.ok && temporal.ok;
    const unavailable = [!postgres.ok && 'postgres', !temporal.ok && 'temporal'].filter(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', unavailable, checks: { postgres, temporal } });
  });
  return router;
}
