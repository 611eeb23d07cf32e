/**
 * Runs `run` `firstRunAfterMs` after the start, then `everyMs` after each run ends
 * (never two at once). `run` handles and logs its own failures (one that escapes goes to
 * `onError` and the schedule goes on); `stopping()` tells it the
 * process is shutting down, so a long run can leave the rest for the next time.
 * `stop()` cancels the next run and waits for one under way.
 */
export function runPeriodically(opts: { firstRunAfterMs: number; everyMs: number; onError: (err: unknown) => void }, run: (stopping: () => boolean) => Promise<void>): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      // A run that throws (its own handling failed) must not end the schedule, nor reject stop().
      running = run(() => stopped)
        .catch(opts.onError)
        .finally(() => {
          if (!stopped) schedule(opts.everyMs);
        });
    }, delayMs);
  };
  schedule(opts.firstRunAfterMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
