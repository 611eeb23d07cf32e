import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { Client, Connection } from '@temporalio/client';
import { Gauge } from 'prom-client';
import { createDb } from '../db/knex';
import { loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { createMetrics, observePoolWaits } from '../platform/metrics';
import { currentThreadId } from '../platform/thread-priority';
import { refetchThrough, toRelay, type FromRelay } from './relay-messages';
import { InboxRelay } from './relay';
import { untilReady } from './until-ready';

/**
 * The relay's thread in the worker process (started by workers/relay-host.ts): its own
 * event loop, Postgres pool and Temporal client, so a pass never waits behind the
 * Temporal SDK's work on the main thread, nor for the other's garbage collection.
 */

/** The delay monitor's timer interval, which the reported figures leave out (they say how late it fired). */
const LOOP_RESOLUTION_MS = 10;

async function main(port: NonNullable<typeof parentPort>): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'wysera-worker').child({ component: 'relay' });
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const connection = await untilReady(log, `Temporal at ${config.TEMPORAL_ADDRESS}`, () => Connection.connect({ address: config.TEMPORAL_ADDRESS }));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const metrics = createMetrics({ processMetrics: false });
  observePoolWaits(metrics, db, 'relay');

  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  new Gauge({
    name: 'wysera_relay_event_loop_delay_seconds',
    help: "How late the relay thread's event loop ran since the last scrape (mean, p99): each await of a pass waits that long once its answer is in",
    labelNames: ['stat'] as const,
    registers: [metrics.registry],
    collect() {
      const late = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) / 1000 : 0);
      this.set({ stat: 'mean' }, late(loop.mean));
      this.set({ stat: 'p99' }, late(loop.percentile(99)));
      loop.reset();
    },
  });

  const remote = refetchThrough(port);
  const relay = new InboxRelay({
    metrics,
    db,
    databaseUrl: config.DATABASE_URL,
    client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    log,
    pollMs: config.RELAY_POLL_MS,
    batchSize: config.RELAY_BATCH_SIZE,
    gatherMs: config.RELAY_GATHER_MS,
    refetch: remote.refetch,
  });

  const send = (message: FromRelay) => port.postMessage(message);
  port.on('message', (raw: unknown) => {
    const message = toRelay.parse(raw);
    switch (message.kind) {
      case 'metrics':
        // A collect that throws must not end the thread (an unhandled rejection would):
        // the scrape then times out on the main thread and says so.
        metrics.registry.getMetricsAsJSON().then(
          (json) => send({ kind: 'metrics', id: message.id, metrics: json }),
          (err: unknown) => log.warn({ err }, 'relay metrics could not be collected'),
        );
        return;
      case 'refetched':
        remote.settle(message);
        return;
      case 'stop':
        void (async () => {
          try {
            await relay.stop();
          } catch (err) {
            log.error({ err }, 'the relay did not stop cleanly');
          }
          loop.disable();
          await Promise.allSettled([db.destroy(), connection.close()]);
          send({ kind: 'stopped' });
          port.close();
        })();
        return;
    }
  });
  relay.start();
  const threadId = currentThreadId();
  send({ kind: 'started', ...(threadId !== undefined ? { threadId } : {}) });
}

if (!parentPort) throw new Error('workers/relay-thread.ts runs as a worker thread of the worker process (workers/relay-host.ts)');
void main(parentPort);
