import type { SyncRun } from '../db/sync';

/** A sync run as the API shows it. */
export function runView(run: SyncRun) {
  return {
    runId: run.id,
    workflowId: run.workflowId,
    mode: run.mode,
    windowStart: run.windowStart,
    status: run.status,
    error: run.error,
    requestedBy: run.requestedBy,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

