import { existsSync } from 'node:fs';
import path from 'node:path';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

/** The workflow bundle's entry: the TypeScript source in development, the compiled file in a build. */
export function workflowsPath(): string {
  const base = path.join(__dirname, '..', 'workflows', 'index');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

export interface WyseraWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Extra options (tests pass a prebuilt bundle, a logger sink, ...). */
  overrides?: Partial<WorkerOptions>;
}

/** The one place that decides what a Wysera worker runs. */
export function createWorker({ connection, namespace, taskQueue, overrides }: WyseraWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(overrides?.workflowBundle ? {} : { workflowsPath: workflowsPath() }),
    ...overrides,
  });
}
