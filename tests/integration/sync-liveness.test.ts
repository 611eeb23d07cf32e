import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncLiveness, SyncWorkState } from '../../domain/sync-liveness';
import { SYNC_RESOURCES } from '../../workflows/sync-messages';
import { eventually } from '../helpers/temporal';
import { syncHarness, type SyncHarness } from '../sync-harness';

/**
 * A running sync's liveness as GET /workspaces/:id/sync reports it, against the real
 * Temporal dev server: first with no worker polling the sync's task queue, then with
 * one whose Stripe reads all fail, then with Stripe back.
 */
let h: SyncHarness;
let workspaceId: string;
let owner: string;

type SyncBody = { run: { runId: string; status: string } | null; liveness: SyncLiveness | null };

const read = async () => (await h.call('GET', `/workspaces/${workspaceId}/sync`, undefined, owner)).body as SyncBody;
const workState = (b: SyncBody): SyncWorkState | null => (b.liveness && !('error' in b.liveness.temporal) ? b.liveness.temporal : null);

beforeAll(async () => {
  h = await syncHarness({ seed: 'sync-liveness', customers: 5, months: 2 });
  ({ id: workspaceId, owner } = await h.createWorkspace({ name: 'Liveness', stripeKey: h.sim.accounts[0]!.restrictedKey, webhookSecret: 'whsec_liveness1' }));
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe("a running sync's liveness", () => {
  it('says no worker polls the task queue while none runs, with the run start as its last progress', async () => {
    const body = await read();
    expect(body.run?.status).toBe('running');
    const started = (await h.db('sync_runs').where({ workspace_id: workspaceId }).first<{ started_at: Date }>('started_at')).started_at;
    expect(body.liveness?.lastProgressAt).toBe(started.toISOString());
    expect(body.liveness?.temporal).toEqual({ workflowStatus: 'RUNNING', workerSeenAt: null, workerPolling: false, retrying: [] });
  });

  it("shows a worker polling, and each read that fails with its attempt and Stripe's error", async () => {
    h.sim.setOutage({ mode: 'error' });
    try {
      await h.startWorker();
      const failing = await eventually(read, (b) => (workState(b)?.retrying.length ?? 0) > 0, 60_000);
      const state = workState(failing)!;
      expect(state.workerPolling).toBe(true);
      expect(Date.now() - Date.parse(state.workerSeenAt!)).toBeLessThan(60_000);
      const retry = state.retrying[0]!;
      expect(retry.attempt).toBeGreaterThanOrEqual(2);
      // Stripe's own answer (the simulator's 500 body) after the client's retries, named
      // for its list: a fetch waiting them out keeps its heartbeat, so Temporal never
      // times it out.
      expect(retry.error).toMatch(new RegExp(`^reading (${SYNC_RESOURCES.join('|')}): An unknown error occurred$`));
      // Nothing stored while every read fails: the last progress is still the start.
      const started = (await h.db('sync_runs').where({ workspace_id: workspaceId }).first<{ started_at: Date }>('started_at')).started_at;
      expect(failing.liveness?.lastProgressAt).toBe(started.toISOString());
    } finally {
      h.sim.clearOutage();
    }
    const done = await eventually(read, (b) => b.run?.status !== 'running', 90_000);
    expect(done.run?.status).toBe('completed');
    // An ended run has nothing to be alive or stuck about.
    expect(done.liveness).toBeNull();
  });

  it('says when the run outlived its workflow (terminated in Temporal, the run never closed), and a new sync replaces it', async () => {
    const started = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'full' }, owner);
    expect(started.status).toBe(202);
    await h.server.client.workflow.getHandle(started.body.workflowId as string).terminate('test: an operator ended it by hand');
    const orphaned = await read();
    expect(orphaned.run).toMatchObject({ runId: started.body.runId, status: 'running' });
    expect(workState(orphaned)).toEqual({ workflowStatus: 'TERMINATED', workerSeenAt: expect.any(String) as string, workerPolling: true, retrying: [] });
    // A new sync closes the orphan as failed and takes its place.
    const next = await h.call('POST', `/workspaces/${workspaceId}/sync`, { mode: 'full' }, owner);
    expect(next.status).toBe(202);
    expect(await h.db('sync_runs').where({ id: started.body.runId }).first('status', 'error')).toEqual({ status: 'failed', error: 'its workflow ended (terminated) without closing the run' });
    const done = await eventually(read, (b) => b.run?.runId === next.body.runId && b.run?.status !== 'running', 90_000);
    expect(done.run?.status).toBe('completed');
  });
});
