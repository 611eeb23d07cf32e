import type { Logger } from '../platform/logger';
import { pruneInbox } from '../db/inbox';
import { pruneProductSignals } from '../db/product-signals';
import { pruneSeatChanges } from '../db/seat-changes';
import { SEAT_WINDOW_MAX_DAYS } from '../domain/expansion';
import type { Db } from '../db/knex';
import type { Metrics } from '../platform/metrics';
import { runPeriodically } from '../platform/periodic';
import { DAY_MS, HOUR_MS } from '../domain/durations';

/**
 * The worker's retentions: the inbox's finished events and the product's signals, each
 * deleted hourly once past its age (platform/config.ts: INBOX_RETENTION_DAYS,
 * PRODUCT_SIGNALS_RETENTION_DAYS), and the seat changes the expansion play reads, past
 * the longest window it may read (SEAT_CHANGES_KEPT_DAYS).
 */
export interface RetentionOptions {
  db: Db;
  log: Logger;
  metrics?: Metrics;
  /** Rows older than this go: inbox events the relay finished with, signals that happened. */
  retentionDays: number;
  /** Before the first run (default 5 minutes): a worker just started, perhaps after an outage, gives its relay the database first. */
  firstRunAfterMs?: number;
  /** Between runs (default an hour). */
  everyMs?: number;
  /** Rows deleted per statement. */
  batch?: number;
}

/** A run that deletes many rows logs its progress this often. */
const PROGRESS_EVERY_MS = 10_000;

/** One table's retention: what to call it in logs, how to delete past a cutoff, and what to count. */
interface RetentionTask {
  what: string;
  /** What goes, for the log: "finished events". */
  rows: string;
  log: Logger;
  retentionDays: number;
  firstRunAfterMs: number;
  everyMs: number;
  prune(cutoff: Date, onBatch: (total: number) => boolean): Promise<number>;
  counted?(pruned: number): void;
}

/**
 * Runs a retention `firstRunAfterMs` after the start, then every `everyMs`: deletes
 * what is older than `retentionDays`. A run that fails (Postgres away) is logged and
 * tried again at the next. Several workers may run it at once: a delete of what
 * another already deleted deletes nothing.
 */
function startRetention(task: RetentionTask): { stop(): Promise<void> } {
  const { what, log, retentionDays, firstRunAfterMs, everyMs } = task;
  return runPeriodically({ firstRunAfterMs, everyMs, onError: (err) => log.error({ err }, `${what} retention: run failed`) }, async (stopping) => {
    const cutoff = new Date(Date.now() - retentionDays * DAY_MS);
    const startedAt = Date.now();
    let reported = startedAt;
    let counted = 0;
    try {
      const pruned = await task.prune(cutoff, (total) => {
        task.counted?.(total - counted);
        counted = total;
        if (Date.now() - reported >= PROGRESS_EVERY_MS) {
          reported = Date.now();
          log.info({ pruned: total, cutoff }, `${what} retention: still deleting`);
        }
        // A worker shutting down does not wait for a long first run: the rest goes next time.
        return !stopping();
      });
      if (pruned > 0) log.info({ pruned, cutoff, ms: Date.now() - startedAt }, `${what} retention: deleted ${task.rows} past the retention period`);
    } catch (err) {
      log.warn({ err: (err as Error).message, pruned: counted }, `${what} retention: run failed; trying again at the next`);
    }
  });
}

/** The schedule of a retention as the options give it: the first run after 5 minutes, then hourly. */
const timing = (opts: RetentionOptions) => ({ log: opts.log, retentionDays: opts.retentionDays, firstRunAfterMs: opts.firstRunAfterMs ?? 300_000, everyMs: opts.everyMs ?? HOUR_MS });

/** Keeps the inbox to its retention period: finished events older than `retentionDays` go (startRetention). */
export function startInboxRetention(opts: RetentionOptions): { stop(): Promise<void> } {
  const { db, metrics, batch } = opts;
  return startRetention({
    what: 'inbox',
    rows: 'finished events',
    ...timing(opts),
    prune: (cutoff, onBatch) => pruneInbox(db, cutoff, batch, onBatch),
    counted: (n) => metrics?.inboxPruned.inc(n),
  });
}

/**
 * Keeps product signals to their retention period: signals that happened longer ago
 * than `retentionDays` go (startRetention). Its first run comes 5 minutes after the
 * inbox's by default, so the two do not delete at once.
 */
export function startProductSignalRetention(opts: RetentionOptions): { stop(): Promise<void> } {
  const { db, metrics, batch } = opts;
  return startRetention({
    what: 'product signals',
    rows: 'signals',
    ...timing({ ...opts, firstRunAfterMs: opts.firstRunAfterMs ?? 600_000 }),
    prune: (cutoff, onBatch) => pruneProductSignals(db, cutoff, batch, onBatch),
    counted: (n) => metrics?.productSignalsPruned.inc(n),
  });
}

/** Seat changes are read over an expansion play's `seatWindowDays` at most: kept a month past the longest it may be set to. */
export const SEAT_CHANGES_KEPT_DAYS = SEAT_WINDOW_MAX_DAYS + 30;

/**
 * Keeps seat changes (migration 025) to what the expansion play can read: older than
 * SEAT_CHANGES_KEPT_DAYS they go (startRetention). Its first run comes 5 minutes after
 * the signals' by default.
 */
export function startSeatChangeRetention(opts: Omit<RetentionOptions, 'retentionDays'> & { retentionDays?: number }): { stop(): Promise<void> } {
  const { db, batch } = opts;
  return startRetention({
    what: 'seat changes',
    rows: 'seat changes',
    ...timing({ ...opts, retentionDays: opts.retentionDays ?? SEAT_CHANGES_KEPT_DAYS, firstRunAfterMs: opts.firstRunAfterMs ?? 900_000 }),
    prune: (cutoff, onBatch) => pruneSeatChanges(db, cutoff, batch, onBatch),
  });
}
