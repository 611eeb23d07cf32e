import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { createActivities } from '../../activities';
import { StripeClients } from '../../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../../activities/stripe-reader';
import type { Db } from '../../db/knex';
import { emailFromEnv } from '../../email/from-env';
import type { Keyring } from '../../platform/crypto';
import { createWorker, workflowsPath } from '../../workers/worker';
import { toolPaths } from '../setup/tools';

let installed = false;
/** Keeps the SDK's own logs to warnings, so test output stays readable. */
export function quietTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
  return bundle;
}

/** A unique task queue per test, so tests never pick up each other's tasks. */
export const uniqueTaskQueue = (prefix: string) => `${prefix}-${randomUUID()}`;

export const testServerPath = () => toolPaths().testServer;

/**
 * A time-skipping test environment on the Java test server. The SDK allows the JVM
 * only 5 s to start, which a busy machine can exceed, so start-up is retried.
 */
export async function timeSkippingEnv(attempts = 4): Promise<TestWorkflowEnvironment> {
  quietTemporalRuntime();
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerPath() } } });
    } catch (err) {
      if (attempt >= attempts || !/did not start within/.test((err as Error).message)) throw err;
    }
  }
}

export interface DevServer {
  client: Client;
  clientConnection: Connection;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

/** Connections to the run's shared Temporal dev server (started in tests/setup/global.ts). */
export async function connectDevServer(): Promise<DevServer> {
  quietTemporalRuntime();
  const address = inject('temporalAddress');
  const clientConnection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection: clientConnection, namespace: 'default' }),
    clientConnection,
    nativeConnection,
    close: async () => {
      await clientConnection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * The plays' activities as the worker builds them, over a test's database. Email has
 * no provider (as a worker without SENDGRID_API_KEY), and Stripe is the real API's
 * address: the tests that use it post events for webhook-only workspaces, whose plays
 * wait for a Stripe key and so never reach either.
 */
export function playActivities(db: Db, keyring: Keyring) {
  return createActivities({
    db,
    keyring,
    log: pino({ level: 'silent' }),
    stripe: createStripeReader(workspaceStripeClients(db, keyring, new StripeClients())),
    email: emailFromEnv({}).sender,
  });
}

/**
 * A Wysera worker on the dev server, running until `stop()`. With `plays` (the test's
 * database and keyring) it also runs the plays' activities, so a failed payment
 * begins a dunning as it would in production.
 */
export async function runWorker(server: DevServer, taskQueue: string, plays?: { db: Db; keyring: Keyring }): Promise<{ worker: Worker; stop(): Promise<void> }> {
  const worker = await createWorker({
    connection: server.nativeConnection,
    client: server.client,
    namespace: 'default',
    taskQueue,
    overrides: { workflowBundle: await workflowBundle(), ...(plays ? { activities: playActivities(plays.db, plays.keyring) } : {}) },
  });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

/** Polls `fn` until `predicate` holds (or fails after `timeoutMs`), returning the last value. */
export async function eventually<T>(fn: () => Promise<T>, predicate: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    let error: unknown;
    try {
      value = await fn();
      if (predicate(value)) return value;
    } catch (err) {
      error = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}${error ? `; last error: ${(error as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The ids of the patches a workflow history holds markers of (`patched()` calls made while it ran). */
export function patchIds(history: { events?: { markerRecordedEventAttributes?: { markerName?: string | null; details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null } | null }[] | null }): string[] {
  return (history.events ?? []).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : null;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });
}
