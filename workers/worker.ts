import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createPlayHubActivities } from '../activities/play-hub';

/** The workflow bundle's entry: the TypeScript source in development, the compiled file in a build. */
export function workflowsPath(): string {
  const base = path.join(__dirname, '..', 'workflows', 'index');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

export interface WyseraWorkerOptions {
  connection: NativeConnection;
  /**
   * A client of the same namespace: the customer workflow starts and signals its plays
   * through it (activities/play-hub.ts), so every worker that runs workflows needs one.
   */
  client: Client;
  namespace: string;
  taskQueue: string;
  /** Extra options (tests pass a prebuilt bundle, a logger sink, ...). */
  overrides?: Partial<WorkerOptions>;
}

/** The one place that decides what a Wysera worker runs. */
export function createWorker({ connection, client, namespace, taskQueue, overrides }: WyseraWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(overrides?.workflowBundle ? {} : { workflowsPath: workflowsPath() }),
    ...overrides,
    activities: { ...createPlayHubActivities({ client }), ...overrides?.activities },
  });
}
