/**
 * Stopping a benchmark part-way (Ctrl-C, or a SIGTERM passed on by bench/run.ts) must
 * leave nothing running: a benchmark starts its own Postgres, Temporal dev server and
 * Wysera processes, and without this an interrupted run leaves them behind, with a
 * temporary Postgres cluster on disk.
 *
 * Returns `stop`, which runs `cleanUp` once however often it is called: the benchmark
 * calls it in its `finally`, and the first SIGINT or SIGTERM calls it too and then
 * exits with 128 + the signal's number. Signals that come while it cleans up are
 * ignored (Ctrl-C reaches both bench/run.ts and the benchmark, and run.ts passes its
 * copy on), so the clean-up is never cut short; once it is done, a signal exits at once.
 * `stopping()` tells the benchmark, which runs on meanwhile, not to start anything more.
 */
import os from 'node:os';

export function stopOnInterrupt(cleanUp: () => Promise<void>): { stop: () => Promise<void>; stopping: () => boolean } {
  let stopping: Promise<void> | undefined;
  let stopped = false;
  const stop = () => (stopping ??= cleanUp().finally(() => (stopped = true)));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const exit = () => process.exit(128 + os.constants.signals[signal]);
      // Cleaned up already (the run is ending): nothing to wait for.
      if (stopped) return exit();
      if (stopping) return;
      process.stderr.write(`\n${signal}: stopping what the benchmark started\n`);
      void stop()
        .catch((err: unknown) => process.stderr.write(`clean-up failed: ${(err as Error).message}\n`))
        .finally(exit);
    });
  }
  // The benchmark goes on while it cleans up: what it would start then must not start.
  return { stop, stopping: () => stopping !== undefined };
}
