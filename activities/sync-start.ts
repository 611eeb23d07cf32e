import type { Client } from '@temporalio/client';
import type { Knex } from '../db/knex';
import { createSyncRun, finishSyncRun, newSyncRunId, SyncAlreadyRunning, type SyncMode, type SyncRun } from '../db/sync';
import { findWorkspaceSettings } from '../db/workspaces';
import { statusInWords, workflowHasEnded } from '../domain/sync-liveness';
import { historyWindowStart } from '../domain/workspace-settings';
import { describeWorkflow } from '../platform/temporal';
import { syncWorkflowId } from '../workflows/ids';
import type { syncWorkflow } from '../workflows/sync';
import type { SyncInput } from '../workflows/sync-messages';

export interface StartSyncDeps {
  db: Knex;
  client: Client;
  taskQueue: string;
}

export class WorkspaceNotFound extends Error {
  constructor(readonly workspaceId: string) {
    super(`no workspace ${workspaceId}`);
    this.name = 'WorkspaceNotFound';
  }
}

/**
 * Starts a sync of a workspace: records the run (refused with SyncAlreadyRunning
 * while another runs), then starts its workflow. A full sync reaches back the
 * workspace's history window; "since" fetches what was created from that date on.
 * If Temporal refuses the start, the run is marked failed and the error rethrown.
 */
export async function startSync(
  deps: StartSyncDeps,
  input: { workspaceId: string; mode: SyncMode; since?: Date | undefined; requestedBy: string; now?: Date },
): Promise<SyncRun> {
  const settings = await findWorkspaceSettings(deps.db, input.workspaceId);
  if (!settings) throw new WorkspaceNotFound(input.workspaceId);
  const windowStart = input.mode === 'since' ? (input.since ?? null) : historyWindowStart(input.now ?? new Date(), settings.historyMonths);
  const id = newSyncRunId();
  const workflowId = syncWorkflowId(input.workspaceId, id);
  const create = () => createSyncRun(deps.db, { id, workspaceId: input.workspaceId, workflowId, mode: input.mode, windowStart, requestedBy: input.requestedBy });
  const run = await create().catch(async (err: unknown) => {
    // A run whose workflow has ended without closing it (terminated or timed out in
    // Temporal) would refuse every new sync for good: it is closed as failed, and the
    // new one takes its place. One still running (or paused) refuses as before.
    if (!(err instanceof SyncAlreadyRunning)) throw err;
    const status = (await describeWorkflow(deps.client, err.run.workflowId))?.status.name ?? 'NOT_FOUND';
    if (!workflowHasEnded(status)) throw err;
    await finishSyncRun(deps.db, err.run.id, { status: 'failed', error: `its workflow ended (${statusInWords(status)}) without closing the run` });
    return create();
  });
  const args: SyncInput = { workspaceId: input.workspaceId, runId: id, windowStart: windowStart?.toISOString() ?? null, mode: input.mode };
  try {
    await deps.client.workflow.start<typeof syncWorkflow>('syncWorkflow', { taskQueue: deps.taskQueue, workflowId, args: [args] });
  } catch (err) {
    await finishSyncRun(deps.db, id, { status: 'failed', error: `could not start the sync workflow: ${(err as Error).message}` });
    throw err;
  }
  return run;
}
