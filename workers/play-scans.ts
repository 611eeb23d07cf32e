import { scanChurnRadar, type ChurnRadarDeps } from '../activities/churn-radar';
import type { Metrics } from '../platform/metrics';
import { runPeriodically } from '../platform/periodic';

/**
 * The churn radar on the worker: scans `firstRunAfterMs` after the start (10 minutes
 * by default: a worker just started gives its relay and the plays the database
 * first), then every `everyMs`. A scan that fails (Postgres or Temporal away) is
 * logged and tried again at the next.
 */
export function startChurnRadar(deps: ChurnRadarDeps & { everyMs: number; firstRunAfterMs?: number; metrics?: Metrics }): { stop(): Promise<void> } {
  return runPeriodically({ firstRunAfterMs: deps.firstRunAfterMs ?? 600_000, everyMs: deps.everyMs, onError: (err) => deps.log.error({ err }, 'churn radar: scan failed') }, async (stopping) => {
    const startedAt = Date.now();
    try {
      const scan = await scanChurnRadar(deps, new Date(), undefined, stopping);
      deps.metrics?.churnSavesOpened.inc(scan.opened);
      deps.metrics?.churnRadarScans.inc({ outcome: scan.failed ? 'failed' : 'done' });
      deps.log.info({ ...scan, ms: Date.now() - startedAt }, 'churn radar: scan done');
    } catch (err) {
      deps.metrics?.churnRadarScans.inc({ outcome: 'failed' });
      deps.log.warn({ err: (err as Error).message }, 'churn radar: scan failed; trying again at the next');
    }
  });
}
