import type { Client } from '@temporalio/client';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { ResourceProgress, SyncRun } from '../db/sync';
import { failingReads, lastProgress, workerPresence, type SyncLiveness, type SyncWorkState } from '../domain/sync-liveness';

/** How long the two questions to Temporal may take: the page asks again in a few seconds anyway. */
const TEMPORAL_DEADLINE_MS = 2000;

/**
 * Asks Temporal who polls the sync's task queue and which of the run's reads are
 * being retried. One call each, never retried: a missed answer is reported as such.
 */
async function workState(client: Client, taskQueue: string, workflowId: string, now: Date): Promise<SyncWorkState> {
  const { connection, options } = client;
  return connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, async () => {
    const [queue, workflow] = await Promise.all([
      client.workflowService.describeTaskQueue({
        namespace: options.namespace,
        taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      }),
      client.workflow.getHandle(workflowId).describe(),
    ]);
    const polls = (queue.pollers ?? []).map((p) => optionalTsToDate(p.lastAccessTime) ?? null);
    const pending = (workflow.raw.pendingActivities ?? []).map((a) => ({
      attempt: a.attempt ?? 1,
      lastFailure: a.lastFailure?.message ?? null,
      nextAttemptAt: optionalTsToDate(a.nextAttemptScheduleTime) ?? null,
    }));
    return { ...workerPresence(polls, now), retrying: failingReads(pending) };
  });
}

/**
 * Whether a running sync moves: its last stored page, whether a worker polls its task
 * queue (the activity side, where Stripe is read), and its reads failing and retried.
 * Temporal not answering is said, not hidden: the run's rows alone cannot tell.
 */
export async function syncLiveness(client: Client, taskQueue: string, run: SyncRun, progress: ResourceProgress[], now: Date): Promise<SyncLiveness> {
  const lastProgressAt = lastProgress(run.startedAt, progress.map((p) => p.updatedAt));
  try {
    return { lastProgressAt, temporal: await workState(client, taskQueue, run.workflowId, now) };
  } catch (err) {
    return { lastProgressAt, temporal: { error: `Temporal could not be asked about the sync: ${(err as Error).message}` } };
  }
}
