import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_RESOURCES } from '../../workflows/sync-messages';
import { eventually } from '../helpers/temporal';
import { syncHarness, type SyncHarness } from '../sync-harness';

/**
 * A sync cancelled in Temporal while every Stripe read hangs (the simulator holds its
 * requests unanswered): the reads stop at once rather than when Stripe answers, and
 * the run is closed as failed instead of being left running. And a run closed before
 * its reads hear of it takes none of their pages.
 */
let h: SyncHarness;
let workspaceId: string;
let owner: string;

beforeAll(async () => {
  h = await syncHarness({ seed: 'sync-cancel', customers: 5, months: 2 });
  ({ id: workspaceId, owner } = await h.createWorkspace({ name: 'Cancel', stripeKey: h.sim.accounts[0]!.restrictedKey, webhookSecret: 'whsec_cancel1', sync: false }));
}, 120_000);

afterAll(async () => {
  h?.sim.clearOutage();
  await h?.close();
});

describe('a cancelled sync', () => {
  it('stops its hanging reads and closes the run as cancelled', async () => {
    const { worker } = await h.startWorker();
    h.sim.setOutage({ mode: 'timeout' });
    const started = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'full' }, owner);
    expect(started.status).toBe(202);
    // Every resource's first page is in flight, held by the simulator.
    await eventually(() => Promise.resolve(h.sim.stats().hangingPeak), (n) => n >= SYNC_RESOURCES.length, 30_000);
    expect(worker.getStatus().numInFlightActivities).toBe(SYNC_RESOURCES.length);

    const handle = h.server.client.workflow.getHandle(started.body.workflowId as string);
    await handle.cancel();
    // Temporal tells each read at its next heartbeat; none waits for Stripe to answer.
    await eventually(() => Promise.resolve(worker.getStatus().numInFlightActivities), (n) => n === 0, 30_000);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await h.db('sync_runs').where({ id: started.body.runId }).first('status', 'error')).toEqual({ status: 'failed', error: 'the sync was cancelled' });

    // Stripe back: the client's retries of the abandoned reads get their pages, which
    // nobody stores.
    const served = h.sim.stats().pagesServed;
    h.sim.clearOutage();
    await eventually(() => Promise.resolve(h.sim.stats().pagesServed - served), (n) => n >= SYNC_RESOURCES.length, 30_000);
    const stored = await h.db('sync_progress').where({ run_id: started.body.runId }).select('resource', 'pages');
    expect(stored.filter((r: { pages: number }) => r.pages > 0)).toEqual([]);
    expect(worker.getStatus().numInFlightActivities).toBe(0);
  });

  it('stores no page for a run closed before the read heard of it', async () => {
    h.sim.setOutage({ mode: 'timeout' });
    const started = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'full' }, owner);
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;
    // Every resource's read has begun (its progress row is made just before its first fetch).
    await eventually(() => h.db('sync_progress').where({ run_id: runId }).select('resource'), (rows) => rows.length === SYNC_RESOURCES.length, 30_000);
    // Closed in Postgres while every read waits on Stripe, with no cancellation on its way
    // (as when a heartbeat carrying one has not reached Temporal yet).
    await h.db('sync_runs').where({ id: runId }).update({ status: 'failed', error: 'closed while its reads were under way', finished_at: new Date() });
    h.sim.clearOutage();
    // Each read gets its page, finds the run closed and ends without storing it, and the workflow with them.
    const outcome = await h.server.client.workflow.getHandle(started.body.workflowId as string).result().then(
      () => 'completed',
      (err: Error) => (err.cause instanceof Error ? err.cause.message : err.message),
    );
    expect(outcome).toMatch(/is failed: its \w+ page was not stored/);
    const stored = await h.db('sync_progress').where({ run_id: runId }).select('resource', 'pages');
    expect(stored.filter((r: { pages: number }) => r.pages > 0)).toEqual([]);
    const customers = await h.db('stripe_customers').where({ workspace_id: workspaceId }).count<{ count: string | number }[]>('* as count');
    expect(Number(customers[0]?.count)).toBe(0);
    expect(await h.db('sync_runs').where({ id: runId }).first('status', 'error')).toEqual({ status: 'failed', error: 'closed while its reads were under way' });
  });
});
