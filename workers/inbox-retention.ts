import type { Logger } from '../platform/logger';
import { pruneInbox } from '../db/inbox';
import type { Db } from '../db/knex';
import type { Metrics } from '../platform/metrics';

export interface InboxRetentionOptions {
  db: Db;
  log: Logger;
  metrics?: Metrics;
  /** Events the relay finished with longer ago than this are deleted. */
  retentionDays: number;
  /** Before the first run (default 5 minutes): a worker just started, perhaps after an outage, gives its relay the database first. */
  firstRunAfterMs?: number;
  /** Between runs (default an hour). */
  everyMs?: number;
  /** Events deleted per statement. */
  batch?: number;
}

const DAY_MS = 86_400_000;
/** A run that deletes many events logs its progress this often. */
const PROGRESS_EVERY_MS = 10_000;

/**
 * Keeps the inbox to its retention period: deletes finished events older than
 * `retentionDays` `firstRunAfterMs` after the start, then every `everyMs`. A run that fails
 * (Postgres away) is logged and tried again at the next. Several workers may run it at
 * once: a delete of what another already deleted deletes nothing.
 */
export function startInboxRetention(opts: InboxRetentionOptions): { stop(): Promise<void> } {
  const { db, log, metrics, retentionDays, firstRunAfterMs = 300_000, everyMs = 3_600_000, batch } = opts;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const run = async () => {
    const cutoff = new Date(Date.now() - retentionDays * DAY_MS);
    const startedAt = Date.now();
    let reported = startedAt;
    let counted = 0;
    try {
      const pruned = await pruneInbox(db, cutoff, batch, (total) => {
        metrics?.inboxPruned.inc(total - counted);
        counted = total;
        if (Date.now() - reported >= PROGRESS_EVERY_MS) {
          reported = Date.now();
          log.info({ pruned: total, cutoff }, 'inbox retention: still deleting');
        }
        // A worker shutting down does not wait for a long first run: the rest goes next time.
        return !stopped;
      });
      if (pruned > 0) log.info({ pruned, cutoff, ms: Date.now() - startedAt }, 'inbox retention: deleted finished events past the retention period');
    } catch (err) {
      log.warn({ err: (err as Error).message, pruned: counted }, 'inbox retention: run failed; trying again at the next');
    }
  };

  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      running = run().then(() => {
        if (!stopped) schedule(everyMs);
      });
    }, delayMs);
  };
  schedule(firstRunAfterMs);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
