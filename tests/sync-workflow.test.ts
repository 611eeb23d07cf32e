import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { AnalyticsActivities } from '../activities/analytics';
import type { SyncActivities, SyncResourceInput } from '../activities/sync';
import { createWorker } from '../workers/worker';
import { syncWorkflowId } from '../workflows/ids';
import type { syncWorkflow } from '../workflows/sync';
import { syncProgressQuery, syncProgressSignal, SYNC_RESOURCES, type SyncInput } from '../workflows/sync-messages';
import { connectDevServer, eventually, type DevServer, uniqueTaskQueue, workflowBundle } from './helpers/temporal';

/**
 * The sync workflow on the run's dev server, with activities that record their calls:
 * which resources it asks for with which window, how a failure ends the run. Nothing
 * here waits on a timer, so it needs no time skipping, and the time-skipping test
 * server cannot run it: a refusal that lands in the same workflow task as another
 * resource's completion makes the workflow cancel that finished activity, which the
 * test server rejects (ACTIVITY_UNKNOWN) on every retry of the task, so the run never
 * ends. The real server accepts it; the last test below lands them together.
 */
interface Call {
  input: SyncResourceInput;
}
const calls = new Map<string, Call[]>();
const completions = new Map<string, { error?: string }>();
const failing = new Set<string>();
/** Workspaces whose analytics the workflow asked to rebuild, in order. */
const recomputes: string[] = [];
/** Runs whose activities wait until the test releases them. */
const gates = new Map<string, Promise<void>>();

const activities: SyncActivities & Pick<AnalyticsActivities, 'recomputeWorkspaceAnalytics'> = {
  recomputeWorkspaceAnalytics: (workspaceId) => {
    recomputes.push(workspaceId);
    if (workspaceId === 'ws_rebuild_fails') return Promise.reject(ApplicationFailure.nonRetryable('the analytics rebuild ran out of memory', 'RebuildFailed'));
    return Promise.resolve({ customers: 0, movements: 0, mrr: 0, warnings: 0 });
  },
  syncResource: async (input) => {
    calls.set(input.runId, [...(calls.get(input.runId) ?? []), { input }]);
    await gates.get(input.runId);
    if (failing.has(`${input.runId}:${input.resource}`)) {
      return Promise.reject(ApplicationFailure.nonRetryable('Stripe refused the charges list: permission missing', 'StripeRefused'));
    }
    return Promise.resolve({ objects: input.resource.length * 10, pages: 2, resumedFrom: null });
  },
  completeSyncRun: (input) => {
    completions.set(input.runId, input.error === undefined ? {} : { error: input.error });
    return Promise.resolve();
  },
};

let server: DevServer;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('sync-wf');

beforeAll(async () => {
  server = await connectDevServer();
  worker = await createWorker({ connection: server.nativeConnection, client: server.client, namespace: 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities } });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await server?.close();
});

const input = (runId: string, mode: 'full' | 'since' = 'full'): SyncInput => ({ workspaceId: 'ws_wf', runId, windowStart: '2024-01-01T00:00:00.000Z', mode });

describe('syncWorkflow', () => {
  it('syncs every resource, windowing only the history in a full sync, and completes the run', async () => {
    const result = await server.client.workflow.execute<typeof syncWorkflow>('syncWorkflow', { taskQueue, workflowId: syncWorkflowId('ws_wf', 'run1'), args: [input('run1')] });
    expect(result.status).toBe('completed');
    expect(result.resources.every((r) => r.done && r.pages === 2)).toBe(true);
    const byResource = Object.fromEntries((calls.get('run1') ?? []).map((c) => [c.input.resource, c.input.createdGte]));
    expect(Object.keys(byResource).sort()).toEqual([...SYNC_RESOURCES].sort());
    expect(byResource.customers).toBeNull();
    expect(byResource.subscriptions).toBeNull();
    expect(byResource.invoices).toBe('2024-01-01T00:00:00.000Z');
    expect(byResource.charges).toBe('2024-01-01T00:00:00.000Z');
    expect(completions.get('run1')).toEqual({});
    // The mirror changed wholesale, so the analytics are rebuilt once.
    expect(recomputes).toEqual(['ws_wf']);
  });

  it('applies "since" to every resource', async () => {
    await server.client.workflow.execute<typeof syncWorkflow>('syncWorkflow', { taskQueue, workflowId: syncWorkflowId('ws_wf', 'run2'), args: [input('run2', 'since')] });
    expect((calls.get('run2') ?? []).every((c) => c.input.createdGte === '2024-01-01T00:00:00.000Z')).toBe(true);
  });

  it('fails the run with the reason when a resource is refused', async () => {
    failing.add('run3:charges');
    const run = server.client.workflow.execute<typeof syncWorkflow>('syncWorkflow', { taskQueue, workflowId: syncWorkflowId('ws_wf', 'run3'), args: [input('run3')] });
    await expect(run).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(completions.get('run3')?.error).toContain('permission missing');
    expect(recomputes).toEqual(['ws_wf', 'ws_wf']);
  });

  it('closes the run as failed when the analytics rebuild after the copy fails for good', async () => {
    const run = server.client.workflow.execute<typeof syncWorkflow>('syncWorkflow', { taskQueue, workflowId: syncWorkflowId('ws_rebuild_fails', 'run5'), args: [{ ...input('run5'), workspaceId: 'ws_rebuild_fails' }] });
    await expect(run).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(completions.get('run5')).toEqual({ error: 'the analytics rebuild ran out of memory' });
  });

  it('answers progress from signals, keeping the furthest', async () => {
    let release = () => {};
    gates.set('run4', new Promise<void>((r) => (release = r)));
    const handle = await server.client.workflow.start<typeof syncWorkflow>('syncWorkflow', { taskQueue, workflowId: syncWorkflowId('ws_wf', 'run4'), args: [input('run4')] });
    const at = new Date().toISOString();
    await handle.signal(syncProgressSignal, { resource: 'invoices', objects: 300, pages: 3, done: false, fraction: 0.5, etaSeconds: 12, at });
    await handle.signal(syncProgressSignal, { resource: 'invoices', objects: 100, pages: 1, done: false, fraction: 0.1, etaSeconds: 90, at });
    const view = await handle.query(syncProgressQuery);
    expect(view.status).toBe('running');
    expect(view.resources.find((r) => r.resource === 'invoices')).toMatchObject({ objects: 300, pages: 3, etaSeconds: 12 });
    release();
    expect((await handle.result()).status).toBe('completed');
  });

  it('ends a run whose refusal arrives with other resources\' completions', async () => {
    // Every activity waits at a gate released at once, so the refusal and the other
    // completions reach the workflow together, often in one task.
    for (let k = 0; k < 5; k++) {
      const runId = `together${k}`;
      failing.add(`${runId}:charges`);
      let release = () => {};
      gates.set(runId, new Promise<void>((r) => (release = r)));
      const run = server.client.workflow.execute<typeof syncWorkflow>('syncWorkflow', { taskQueue, workflowId: syncWorkflowId('ws_wf', runId), args: [input(runId)] });
      await eventually(() => Promise.resolve(calls.get(runId)?.length ?? 0), (n) => n === SYNC_RESOURCES.length);
      release();
      await expect(run).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(completions.get(runId)?.error).toContain('permission missing');
    }
  });
});
