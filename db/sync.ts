import { randomBytes } from 'node:crypto';
import type { Db } from './knex';

export type SyncMode = 'full' | 'since';
export type SyncStatus = 'running' | 'completed' | 'failed';

export interface SyncRun {
  id: string;
  workspaceId: string;
  workflowId: string;
  mode: SyncMode;
  windowStart: Date | null;
  status: SyncStatus;
  requestedBy: string;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

interface SyncRunRow {
  id: string;
  workspace_id: string;
  workflow_id: string;
  mode: SyncMode;
  window_start: Date | null;
  status: SyncStatus;
  requested_by: string;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

const toRun = (r: SyncRunRow): SyncRun => ({
  id: r.id,
  workspaceId: r.workspace_id,
  workflowId: r.workflow_id,
  mode: r.mode,
  windowStart: r.window_start,
  status: r.status,
  requestedBy: r.requested_by,
  error: r.error,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export function newSyncRunId(): string {
  return `sync_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export class SyncAlreadyRunning extends Error {
  constructor(readonly run: SyncRun) {
    super(`a sync of workspace ${run.workspaceId} is already running (${run.id})`);
    this.name = 'SyncAlreadyRunning';
  }
}

/** Records a new running sync; refuses (SyncAlreadyRunning) while another one runs for the workspace. */
export async function createSyncRun(
  db: Db,
  input: { id: string; workspaceId: string; workflowId: string; mode: SyncMode; windowStart: Date | null; requestedBy: string },
): Promise<SyncRun> {
  const rows = await db<SyncRunRow>('sync_runs')
    .insert({
      id: input.id,
      workspace_id: input.workspaceId,
      workflow_id: input.workflowId,
      mode: input.mode,
      window_start: input.windowStart,
      requested_by: input.requestedBy,
    })
    .onConflict(db.raw("(workspace_id) where status = 'running'"))
    .ignore()
    .returning('*');
  const row = rows[0];
  if (!row) {
    const running = await runningSync(db, input.workspaceId);
    if (running) throw new SyncAlreadyRunning(running);
    throw new Error('sync run was neither created nor found running');
  }
  return toRun(row);
}

export async function runningSync(db: Db, workspaceId: string): Promise<SyncRun | undefined> {
  const row = await db<SyncRunRow>('sync_runs').where({ workspace_id: workspaceId, status: 'running' }).first();
  return row && toRun(row);
}

export async function findSyncRun(db: Db, runId: string): Promise<SyncRun | undefined> {
  const row = await db<SyncRunRow>('sync_runs').where({ id: runId }).first();
  return row && toRun(row);
}

export async function latestSyncRun(db: Db, workspaceId: string): Promise<SyncRun | undefined> {
  const row = await db<SyncRunRow>('sync_runs').where({ workspace_id: workspaceId }).orderBy('started_at', 'desc').orderBy('id', 'desc').first();
  return row && toRun(row);
}

export async function finishSyncRun(db: Db, runId: string, outcome: { status: 'completed' } | { status: 'failed'; error: string }): Promise<void> {
  await db<SyncRunRow>('sync_runs')
    .where({ id: runId, status: 'running' })
    .update({ status: outcome.status, error: outcome.status === 'failed' ? outcome.error : null, finished_at: db.fn.now() as unknown as Date });
}

export interface ResourceProgress {
  resource: string;
  objects: number;
  pages: number;
  cursor: string | null;
  oldestCreated: Date | null;
  done: boolean;
  startedAt: Date;
  updatedAt: Date;
}

interface ProgressRow {
  run_id: string;
  resource: string;
  objects: number;
  pages: number;
  cursor: string | null;
  oldest_created: Date | null;
  done: boolean;
  started_at: Date;
  updated_at: Date;
}

const toProgress = (r: ProgressRow): ResourceProgress => ({
  resource: r.resource,
  objects: r.objects,
  pages: r.pages,
  cursor: r.cursor,
  oldestCreated: r.oldest_created,
  done: r.done,
  startedAt: r.started_at,
  updatedAt: r.updated_at,
});

export async function syncProgress(db: Db, runId: string): Promise<ResourceProgress[]> {
  const rows = await db<ProgressRow>('sync_progress').where({ run_id: runId }).orderBy('started_at').orderBy('resource');
  return rows.map(toProgress);
}

export async function resourceProgress(db: Db, runId: string, resource: string): Promise<ResourceProgress | undefined> {
  const row = await db<ProgressRow>('sync_progress').where({ run_id: runId, resource }).first();
  return row && toProgress(row);
}

/**
 * Records one stored page: called in the transaction that upserted the page, so the
 * cursor moves exactly when the page's rows are committed.
 */
/**
 * A run's status, its row locked until the transaction ends: a page stored after it
 * holds the run open, so the run cannot be closed between the check and the page.
 */
export async function lockedRunStatus(trx: Db, runId: string): Promise<string | undefined> {
  const row = await trx('sync_runs').where({ id: runId }).forShare().first<{ status: string } | undefined>('status');
  return row?.status;
}

export async function recordPage(
  db: Db,
  runId: string,
  resource: string,
  page: { objects: number; cursor: string | null; oldestCreated: Date | null; done: boolean },
): Promise<void> {
  await db('sync_progress')
    .insert({ run_id: runId, resource, objects: page.objects, pages: 1, cursor: page.cursor, oldest_created: page.oldestCreated, done: page.done })
    .onConflict(['run_id', 'resource'])
    .merge({
      objects: db.raw('sync_progress.objects + excluded.objects'),
      pages: db.raw('sync_progress.pages + 1'),
      cursor: db.raw('excluded.cursor'),
      oldest_created: db.raw('coalesce(excluded.oldest_created, sync_progress.oldest_created)'),
      done: db.raw('excluded.done'),
      updated_at: db.fn.now(),
    });
}

/** Marks a resource as started (a row with no pages yet), so progress lists it at once. */
export async function startResource(db: Db, runId: string, resource: string): Promise<void> {
  await db('sync_progress').insert({ run_id: runId, resource }).onConflict(['run_id', 'resource']).ignore();
}
