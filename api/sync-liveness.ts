import type { Client } from '@temporalio/client';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { ResourceProgress, SyncRun } from '../db/sync';
import { failingReads, lastProgress, workerPresence, type PendingRead, type SyncLiveness, type SyncWorkState } from '../domain/sync-liveness';
import { describeWorkflow } from '../platform/temporal';

/** How long the questions to Temporal may take in all (the client's retries included): the page asks again in a few seconds anyway. */
const TEMPORAL_DEADLINE_MS = 2000;

const { TaskQueueType, TaskQueueKind, PendingActivityState } = temporal.api.enums.v1;

const readState = (state: number | null | undefined): PendingRead['state'] =>
  state === PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED ? 'scheduled' : state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED ? 'started' : 'other';

/**
 * Asks Temporal whether the run's workflow still runs, who polls its task queue (either
 * side: a worker whose activity slots are all taken stops polling for activities, not for
 * workflow tasks), and which of its reads are failing. Within one deadline: a missed
 * answer is reported as such.
 */
async function workState(client: Client, taskQueue: string, workflowId: string, lastProgressAt: Date, now: Date): Promise<SyncWorkState> {
  const { connection, options } = client;
  return connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, async () => {
    const pollersOf = (type: number) =>
      client.workflowService.describeTaskQueue({ namespace: options.namespace, taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, taskQueueType: type });
    const [activities, workflows, workflow] = await Promise.all([
      pollersOf(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
      pollersOf(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
      describeWorkflow(client, workflowId),
    ]);
    if (!workflow) return { workflowStatus: 'NOT_FOUND', workerSeenAt: null, workerPolling: false, retrying: [] };
    const running = workflow.raw.pendingActivities ?? [];
    // A read heartbeating is a worker at work too.
    const seen = [...(activities.pollers ?? []), ...(workflows.pollers ?? [])].map((p) => optionalTsToDate(p.lastAccessTime) ?? null);
    const beats = running.map((a) => optionalTsToDate(a.lastHeartbeatTime) ?? null);
    const pending: PendingRead[] = running.map((a) => ({
      activity: a.activityType?.name ?? '',
      state: readState(a.state),
      attempt: a.attempt ?? 1,
      lastFailure: a.lastFailure?.message ?? null,
      lastFailedAt: optionalTsToDate(a.lastAttemptCompleteTime) ?? null,
      nextAttemptAt: optionalTsToDate(a.nextAttemptScheduleTime) ?? null,
    }));
    return { workflowStatus: workflow.status.name, ...workerPresence([...seen, ...beats], now), retrying: failingReads(pending, lastProgressAt) };
  });
}

/**
 * Whether a running sync moves: its last stored page, whether a worker polls its task
 * queue (the activity side, where Stripe is read), and its reads failing and retried.
 * Temporal not answering is said, not hidden: the run's rows alone cannot tell.
 */
export async function syncLiveness(client: Client, taskQueue: string, run: SyncRun, progress: ResourceProgress[], now: Date): Promise<SyncLiveness> {
  const lastProgressAt = lastProgress(run.startedAt, progress.filter((p) => p.pages > 0).map((p) => p.updatedAt));
  try {
    return { lastProgressAt, temporal: await workState(client, taskQueue, run.workflowId, new Date(lastProgressAt), now) };
  } catch (err) {
    return { lastProgressAt, temporal: { error: `Temporal could not be asked about the sync: ${(err as Error).message}` } };
  }
}
