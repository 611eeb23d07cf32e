import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { churnRisks } from '../db/churn-risk';
import { closeChurnSave, closeUnstartedSaves, markSaveStarted, openChurnSaves, overdueSaves, unstartedSaves, type ChurnSave } from '../db/churn-saves';
import type { Db } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import { CHURN_PLAY, churnSettings } from '../domain/churn-save';
import { SAVE_REVIEW_WINDOW_MS } from '../domain/churn-save-timing';
import type { Logger } from '../platform/logger';
import type { churnSaveWorkflow } from '../workflows/churn-save';
import { CUSTOMER_ID, PLAY, WORKSPACE_ID } from '../workflows/search-attributes';

export interface ChurnRadarDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  log: Logger;
}

export interface RadarScan {
  /** Workspaces scanned (their churn play not off). */
  workspaces: number;
  /** Workspaces whose scan failed (logged; the others went on). */
  failed: number;
  /** Customers at or above their workspace's threshold. */
  atRisk: number;
  /** Saves opened by this scan (the others are open already, cooling down or in dunning). */
  opened: number;
  /** Save workflows started (this scan's and any an earlier scan opened but did not start). */
  started: number;
  /** Open saves closed because nothing would ever close them: never started before the play went off, or their workflow is gone. */
  swept: number;
}

/** A save's workflow still open this long after it started has been lost (terminated, reset): its save is closed. */
const OVERDUE_AFTER_MS = SAVE_REVIEW_WINDOW_MS + 86_400_000;

/**
 * One look at every workspace whose churn play is not off: the customers whose risk
 * is at or above the workspace's threshold get a save (db/churn-saves.ts decides
 * which: none open, none within the cooldown, not in dunning), and each new save's
 * workflow starts. Safe to run from several workers at once: a save opens once, and a
 * workflow id starts once.
 */
export async function scanChurnRadar(deps: ChurnRadarDeps, now: Date, onlyWorkspaces?: string[], stopping: () => boolean = () => false): Promise<RadarScan> {
  const { db, log } = deps;
  const ids: string[] = onlyWorkspaces ?? (await db('workspaces').orderBy('id').pluck<string[]>('id'));
  const scan: RadarScan = { workspaces: 0, failed: 0, atRisk: 0, opened: 0, started: 0, swept: 0 };
  for (const workspaceId of ids) {
    // A worker shutting down does not wait for every workspace: the rest go next time.
    if (stopping()) break;
    try {
      await scanWorkspace(deps, workspaceId, now, scan);
    } catch (err) {
      // One workspace's trouble (a Temporal call refused, a bad row) must not stop the radar for the others.
      scan.failed++;
      log.warn({ workspaceId, err: (err as Error).message }, 'churn radar: workspace scan failed; the next scan tries again');
    }
  }
  return scan;
}

async function scanWorkspace(deps: ChurnRadarDeps, workspaceId: string, now: Date, scan: RadarScan): Promise<void> {
  const { db, log } = deps;
  const play = await getPlaySettings(db, workspaceId, CHURN_PLAY);
  if (play.rollout.mode === 'off') {
    // Saves opened just before the play went off: their workflow, which would have ended them, never starts.
    scan.swept += await closeUnstartedSaves(db, workspaceId, 'off', now);
    scan.swept += await sweepOverdue(deps, workspaceId, now);
    return;
  }
  scan.workspaces++;
  const settings = churnSettings(play.config);
  const candidates = [...(await churnRisks(db, workspaceId, now))]
    .filter(([, risk]) => risk.score >= settings.threshold)
    .map(([customerId, risk]) => ({ customerId, score: risk.score, reasons: risk.reasons }));
  scan.atRisk += candidates.length;
  scan.opened += (await openChurnSaves(db, workspaceId, candidates, { threshold: settings.threshold, cooldownDays: settings.cooldownDays, now })).length;
  for (const save of await unstartedSaves(db, workspaceId)) {
    await startSave(deps, save);
    scan.started++;
  }
  scan.swept += await sweepOverdue(deps, workspaceId, now);
  log.info({ workspaceId, atRisk: candidates.length, threshold: settings.threshold }, 'churn radar: workspace scanned');
}

/**
 * Closes open saves whose workflow is no longer running (terminated or reset by an
 * operator): only the workflow closes a save, and an open one keeps the customer
 * from any other. Asked of Temporal only for saves open past the review window.
 */
async function sweepOverdue(deps: ChurnRadarDeps, workspaceId: string, now: Date): Promise<number> {
  let swept = 0;
  for (const save of await overdueSaves(deps.db, workspaceId, new Date(now.getTime() - OVERDUE_AFTER_MS))) {
    let running: boolean;
    try {
      running = (await deps.client.workflow.getHandle(save.workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      running = false;
    }
    if (running) continue;
    await closeChurnSave(deps.db, save.id, 'lost', now);
    deps.log.warn({ workspaceId, saveId: save.id, workflowId: save.workflowId }, 'churn radar: closed a save whose workflow is gone');
    swept++;
  }
  return swept;
}

/** Starts a save's workflow, once ever (an id already used answers as started), and records it. */
async function startSave(deps: ChurnRadarDeps, save: ChurnSave): Promise<void> {
  try {
    await deps.client.workflow.start<typeof churnSaveWorkflow>('churnSaveWorkflow', {
      workflowId: save.workflowId,
      taskQueue: deps.taskQueue,
      args: [{ workspaceId: save.workspaceId, customerId: save.customerId, saveId: save.id, workflowId: save.workflowId }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: WORKSPACE_ID, value: save.workspaceId },
        { key: CUSTOMER_ID, value: save.customerId },
        { key: PLAY, value: CHURN_PLAY },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  await markSaveStarted(deps.db, save.id);
}
