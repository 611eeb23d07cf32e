import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { churnRisks } from '../db/churn-risk';
import { markSaveStarted, openChurnSaves, unstartedSaves, type ChurnSave } from '../db/churn-saves';
import type { Db } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import { CHURN_PLAY, churnSettings } from '../domain/churn-save';
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
  workspaces: number;
  /** Customers at or above their workspace's threshold. */
  atRisk: number;
  /** Saves opened by this scan (the others are open already, cooling down or in dunning). */
  opened: number;
  /** Save workflows started (this scan's and any an earlier scan opened but did not start). */
  started: number;
}

/**
 * One look at every workspace whose churn play is not off: the customers whose risk
 * is at or above the workspace's threshold get a save (db/churn-saves.ts decides
 * which: none open, none within the cooldown, not in dunning), and each new save's
 * workflow starts. Safe to run from several workers at once: a save opens once, and a
 * workflow id starts once.
 */
export async function scanChurnRadar(deps: ChurnRadarDeps, now: Date, onlyWorkspaces?: string[]): Promise<RadarScan> {
  const { db, log } = deps;
  const ids: string[] = onlyWorkspaces ?? (await db('workspaces').orderBy('id').pluck<string[]>('id'));
  const scan: RadarScan = { workspaces: 0, atRisk: 0, opened: 0, started: 0 };
  for (const workspaceId of ids) {
    const play = await getPlaySettings(db, workspaceId, CHURN_PLAY);
    if (play.rollout.mode === 'off') continue;
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
    log.info({ workspaceId, atRisk: candidates.length, threshold: settings.threshold }, 'churn radar: workspace scanned');
  }
  return scan;
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
