import type { Counter } from 'prom-client';
import { scanChurnRadar } from '../activities/churn-radar';
import { scanExpansion } from '../activities/expansion';
import { scanRenewals } from '../activities/renewal';
import type { OutreachScanDeps } from '../activities/outreach-scan';
import type { Metrics } from '../platform/metrics';
import { runPeriodically } from '../platform/periodic';

interface ScanLoop {
  /** Names the scan in the logs: "churn radar". */
  name: string;
  scan(deps: OutreachScanDeps, now: Date, onlyWorkspaces: undefined, stopping: () => boolean): Promise<{ opened: number; failed: number }>;
  counters?: { opened: Counter; scans: Counter<'outcome'> } | undefined;
}

type LoopDeps = OutreachScanDeps & { everyMs: number; firstRunAfterMs?: number; metrics?: Metrics };

/**
 * A play's scan on the worker: `firstRunAfterMs` after the start (10 minutes by
 * default: a worker just started gives its relay and the plays the database first),
 * then every `everyMs`. A scan that fails (Postgres or Temporal away) is logged and
 * tried again at the next.
 */
function startScanLoop(deps: LoopDeps, loop: ScanLoop): { stop(): Promise<void> } {
  return runPeriodically({ firstRunAfterMs: deps.firstRunAfterMs ?? 600_000, everyMs: deps.everyMs, onError: (err) => deps.log.error({ err }, `${loop.name}: scan failed`) }, async (stopping) => {
    const startedAt = Date.now();
    try {
      const scan = await loop.scan(deps, new Date(), undefined, stopping);
      loop.counters?.opened.inc(scan.opened);
      loop.counters?.scans.inc({ outcome: scan.failed ? 'failed' : 'done' });
      deps.log.info({ ...scan, ms: Date.now() - startedAt }, `${loop.name}: scan done`);
    } catch (err) {
      loop.counters?.scans.inc({ outcome: 'failed' });
      deps.log.warn({ err: (err as Error).message }, `${loop.name}: scan failed; trying again at the next`);
    }
  });
}

/** The churn radar (activities/churn-radar.ts) on the worker. */
export function startChurnRadar(deps: LoopDeps): { stop(): Promise<void> } {
  return startScanLoop(deps, { name: 'churn radar', scan: scanChurnRadar, counters: deps.metrics && { opened: deps.metrics.churnSavesOpened, scans: deps.metrics.churnRadarScans } });
}

/** The expansion play's scan (activities/expansion.ts) on the worker. */
export function startExpansionScan(deps: LoopDeps): { stop(): Promise<void> } {
  return startScanLoop(deps, { name: 'expansion scan', scan: scanExpansion, counters: deps.metrics && { opened: deps.metrics.expansionPitchesOpened, scans: deps.metrics.expansionScans } });
}

/** The renewal play's scan (activities/renewal.ts) on the worker. */
export function startRenewalScan(deps: LoopDeps): { stop(): Promise<void> } {
  return startScanLoop(deps, { name: 'renewal scan', scan: scanRenewals, counters: deps.metrics && { opened: deps.metrics.renewalNotesOpened, scans: deps.metrics.renewalScans } });
}
