import type { Logger } from '../platform/logger';

/** Retries `fn` until it succeeds, logging each failure: Temporal may still be starting. */
export async function untilReady<T>(log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = Math.min(10_000, 500 * attempt);
      log.warn({ attempt, retryInMs: delay, err: (err as Error).message }, `waiting for ${what}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
