import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../platform/logger';
import type { MirrorRefetch } from './mirror-refetch';
import { answerRefetch, fromRelay, type MetricsJson, type ToRelay } from './relay-messages';

/** The relay thread's entry: the TypeScript source in development, the compiled file in a build. */
function relayThreadPath(): string {
  const base = path.join(__dirname, 'relay-thread');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

/** How long a scrape waits for the relay thread's figures. */
const METRICS_TIMEOUT_MS = 5_000;

export interface RelayThread {
  /** The thread's kernel id (Linux; undefined elsewhere). */
  threadId: number | undefined;
  /** The relay's metrics (prom-client JSON), to add to the process's own. */
  metrics(): Promise<MetricsJson>;
  /** Stops the relay (its pass under way finishes) and ends the thread. */
  stop(): Promise<void>;
}

/**
 * Starts the inbox relay on a thread of its own (workers/relay-thread.ts). Its re-fetches
 * from Stripe are served here with `refetch`, on the process's one rate limiter per
 * workspace. Should the thread fail, `onFailure` hears why: the process cannot go on
 * without its relay (a restart brings both back, and the inbox keeps every event).
 */
export async function startRelayThread(opts: { log: Logger; refetch: MirrorRefetch; onFailure: (err: Error) => void }): Promise<RelayThread> {
  const entry = relayThreadPath();
  // A thread gets the process's environment. From source it needs tsx's loader, which
  // the process's `--import tsx` does not give a thread: its CommonJS hook is set up first.
  const thread = entry.endsWith('.ts')
    ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(entry)});`, { eval: true })
    : new Worker(entry);
  let nextId = 1;
  const metricsWaiting = new Map<number, (json: MetricsJson) => void>();
  let stopping: Promise<void> | undefined;
  let resolveStopped: () => void = () => undefined;
  const send = (message: ToRelay) => thread.postMessage(message);

  const started = new Promise<number | undefined>((resolve, reject) => {
    thread.on('message', (raw: unknown) => {
      const message = fromRelay.parse(raw);
      switch (message.kind) {
        case 'started':
          resolve(message.threadId);
          return;
        case 'metrics':
          metricsWaiting.get(message.id)?.(message.metrics);
          metricsWaiting.delete(message.id);
          return;
        case 'refetch':
          answerRefetch({ postMessage: send }, opts.refetch, message);
          return;
        case 'stopped':
          resolveStopped();
          return;
      }
    });
    let failed = false;
    const fail = (err: Error) => {
      reject(err);
      if (failed) return;
      failed = true;
      opts.log.error({ err }, 'the relay thread failed');
      opts.onFailure(err);
    };
    thread.on('error', (err) => {
      // While stopping, a failure ends the thread all the same: the process is on its way out.
      if (!stopping) return fail(err);
      opts.log.error({ err }, 'the relay thread failed while stopping');
      resolveStopped();
    });
    thread.on('exit', (code) => (stopping ? resolveStopped() : fail(new Error(`the relay thread exited (code ${code})`))));
  });
  const threadId = await started;

  return {
    threadId,
    metrics: () =>
      new Promise<MetricsJson>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          metricsWaiting.delete(id);
          reject(new Error(`the relay thread did not answer within ${METRICS_TIMEOUT_MS} ms`));
        }, METRICS_TIMEOUT_MS);
        metricsWaiting.set(id, (json) => {
          clearTimeout(timer);
          resolve(json);
        });
        send({ kind: 'metrics', id });
      }),
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        resolveStopped = resolve;
        send({ kind: 'stop' });
      }).then(() => thread.terminate().then(() => undefined))),
  };
}
