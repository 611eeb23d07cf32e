import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities, setHandler, ActivityFailure } from '@temporalio/workflow';
import type { AnalyticsActivities } from '../activities/analytics';
import type { SyncActivities } from '../activities/sync';
import {
  SYNC_RESOURCES,
  syncProgressQuery,
  syncProgressSignal,
  type ResourceProgressUpdate,
  type SyncInput,
  type SyncProgressView,
  type SyncResource,
} from './sync-messages';

const { syncResource } = proxyActivities<SyncActivities>({
  // A page takes well under a second; a worker killed mid-page is noticed after
  // the heartbeat timeout and the next attempt resumes from the stored cursor.
  heartbeatTimeout: '5s',
  startToCloseTimeout: '6h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 50, nonRetryableErrorTypes: ['StripeRefused', 'WorkspaceNotFound'] },
});

const { completeSyncRun } = proxyActivities<SyncActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 20 },
});

// A workspace recompute reads the whole mirror: seconds for 10,000 customers.
const { recomputeWorkspaceAnalytics } = proxyActivities<AnalyticsActivities>({
  startToCloseTimeout: '30m',
  retry: { initialInterval: '5s', maximumAttempts: 10 },
});

/** Full syncs copy these whole: current state needs every customer and subscription. */
const UNWINDOWED_IN_FULL: readonly SyncResource[] = ['products', 'prices', 'customers', 'subscriptions'];

/** Closes the run in Postgres even when the workflow is being cancelled. */
function closeRun(input: { runId: string; error?: string }): Promise<void> {
  return CancellationScope.nonCancellable(() => completeSyncRun(input));
}

function reason(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One sync of a workspace's Stripe history into the mirror (`sync:<workspace>:<run>`).
 * Every resource is copied by its own activity, all in parallel: they share the
 * workspace's rate limiter, so together they run at the limit. Progress arrives as
 * signals from the activities and is answered by the `syncProgress` query.
 */
export async function syncWorkflow(input: SyncInput): Promise<SyncProgressView> {
  const view: SyncProgressView = {
    runId: input.runId,
    workspaceId: input.workspaceId,
    status: 'running',
    error: null,
    resources: SYNC_RESOURCES.map((resource) => ({ resource, objects: 0, pages: 0, done: false, fraction: 0, etaSeconds: null, at: '' })),
  };
  setHandler(syncProgressQuery, () => view);
  setHandler(syncProgressSignal, (update: ResourceProgressUpdate) => {
    const i = view.resources.findIndex((r) => r.resource === update.resource);
    // Signals may arrive out of order after a retry: keep the furthest one.
    if (i >= 0 && update.pages >= view.resources[i]!.pages) view.resources[i] = update;
  });

  try {
    // One refused resource ends the run: the others are cancelled rather than left
    // writing pages for a run already marked failed.
    await CancellationScope.cancellable(async () => {
      const all = SYNC_RESOURCES.map(async (resource) => {
        const windowed = input.mode === 'since' || !UNWINDOWED_IN_FULL.includes(resource);
        const result = await syncResource({
          workspaceId: input.workspaceId,
          runId: input.runId,
          resource,
          createdGte: windowed ? input.windowStart : null,
          // Estimates measure every resource against the window; whole copies of older
          // customers only hold their estimate at 99% a little longer.
          spanStart: input.windowStart,
        });
        const i = view.resources.findIndex((r) => r.resource === resource);
        view.resources[i] = { ...view.resources[i]!, objects: result.objects, pages: result.pages, done: true, fraction: 1, etaSeconds: 0 };
      });
      try {
        await Promise.all(all);
      } catch (err) {
        CancellationScope.current().cancel();
        await Promise.allSettled(all);
        throw err;
      }
    });
    // The mirror changed wholesale: rebuild MRR, movements and cohorts from it.
    await recomputeWorkspaceAnalytics(input.workspaceId);
  } catch (err) {
    view.status = 'failed';
    const cancelled = isCancellation(err);
    view.error = cancelled ? 'the sync was cancelled' : reason(err);
    // Cancelled, the workflow's own scope is too: the run is closed outside it, or it
    // would stay running with nothing left to end it.
    await closeRun({ runId: input.runId, error: view.error });
    if (cancelled) throw err;
    throw ApplicationFailure.nonRetryable(`sync ${input.runId} failed: ${view.error}`, 'SyncFailed');
  }
  await closeRun({ runId: input.runId });
  view.status = 'completed';
  return view;
}
