/**
 * Runs `run` `firstRunAfterMs` after the start, then `everyMs` after each run ends
 * (never two at once). `run` handles its own failures; `stopping()` tells it the
 * process is shutting down, so a long run can leave the rest for the next time.
 * `stop()` cancels the next run and waits for one under way.
 */
export function runPeriodically(opts: { firstRunAfterMs: number; everyMs: number }, run: (stopping: () => boolean) => Promise<void>): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      running = run(() => stopped).then(() => {
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
