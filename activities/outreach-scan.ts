import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db } from '../db/knex';
import type { Outreach, OutreachRows } from '../db/outreach-rows';
import { getPlaySettings, type PlaySettings } from '../db/play-settings';
import type { Logger } from '../platform/logger';
import type { churnSaveWorkflow } from '../workflows/churn-save';
import type { expansionPitchWorkflow } from '../workflows/expansion-pitch';
import type { renewalNoteWorkflow } from '../workflows/renewal-note';
import { CUSTOMER_ID, PLAY, WORKSPACE_ID } from '../workflows/search-attributes';

/** The one-email plays' workflows, by the name a scan starts them with. */
export interface OutreachWorkflows {
  churnSaveWorkflow: typeof churnSaveWorkflow;
  expansionPitchWorkflow: typeof expansionPitchWorkflow;
  renewalNoteWorkflow: typeof renewalNoteWorkflow;
}
type OutreachInput<W extends keyof OutreachWorkflows> = Parameters<OutreachWorkflows[W]>[0];
/** The scan fills these of every workflow's argument; the play's `workflowArgs` gives the rest. */
type CommonInput = 'workspaceId' | 'customerId' | 'workflowId';

export interface OutreachScanDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  log: Logger;
}

export interface OutreachScan {
  /** Workspaces scanned (the play not off in them). */
  workspaces: number;
  /** Workspaces whose scan failed (logged; the others went on). */
  failed: number;
  /** Customers the play would reach out to now. */
  candidates: number;
  /** Rows opened by this scan (the other candidates have one open, are cooling down, or are left alone for now). */
  opened: number;
  /** Workflows started (this scan's and any an earlier scan opened but did not start). */
  started: number;
  /** Open rows closed because nothing would ever close them: never started before the play went off, or their workflow is gone. */
  swept: number;
}

/**
 * A play that writes one email at a time to the customers its scan picks (the churn
 * radar, the expansion playbook, the renewal notes). `W` names its workflow, so the
 * id's key and the rest of the argument are checked against that workflow's input.
 */
export interface OutreachPlay<T extends Outreach, Outcome extends string, W extends keyof OutreachWorkflows = keyof OutreachWorkflows> {
  play: string;
  /** Names the play in the logs: "churn radar". */
  name: string;
  /** The workflow each row runs; its one argument is `{ workspaceId, customerId, workflowId }` and `workflowArgs`. */
  workflowType: W;
  /** The rest of the workflow's argument, from the row: its id under the workflow's name for it, and whatever else the workflow takes (the renewal's subscription and date). */
  workflowArgs: (row: T) => Omit<OutreachInput<W>, CommonInput>;
  rows: OutreachRows<T, Outcome>;
  /** The outcomes of a row closed by the scan: the play off before its workflow started, or the workflow gone. */
  closedOff: Outcome;
  closedLost: Outcome;
  /** A workflow still open this long after it started has been lost (terminated, reset). */
  overdueAfterMs: number;
  /** Finds the workspace's candidates and opens a row for each the play's rules allow. */
  open(db: Db, workspaceId: string, settings: PlaySettings, now: Date): Promise<{ candidates: number; opened: number }>;
}

/**
 * One look at every workspace where the play is not off: `open` picks the customers
 * and opens their rows, and each new row's workflow starts. Safe to run from several
 * workers at once: a row opens once per customer, and a workflow id starts once.
 */
export async function scanOutreach<T extends Outreach, Outcome extends string, W extends keyof OutreachWorkflows>(
  deps: OutreachScanDeps,
  play: OutreachPlay<T, Outcome, W>,
  now: Date,
  onlyWorkspaces?: string[],
  stopping: () => boolean = () => false,
): Promise<OutreachScan> {
  const { db, log } = deps;
  const ids: string[] = onlyWorkspaces ?? (await db('workspaces').orderBy('id').pluck<string[]>('id'));
  const scan: OutreachScan = { workspaces: 0, failed: 0, candidates: 0, opened: 0, started: 0, swept: 0 };
  for (const workspaceId of ids) {
    // A worker shutting down does not wait for every workspace: the rest go next time.
    if (stopping()) break;
    try {
      await scanWorkspace(deps, play, workspaceId, now, scan);
    } catch (err) {
      // One workspace's trouble (a Temporal call refused, a bad row) must not stop the scan for the others.
      scan.failed++;
      log.warn({ workspaceId, play: play.play, err: (err as Error).message }, `${play.name}: workspace scan failed; the next scan tries again`);
    }
  }
  return scan;
}

async function scanWorkspace<T extends Outreach, Outcome extends string, W extends keyof OutreachWorkflows>(deps: OutreachScanDeps, play: OutreachPlay<T, Outcome, W>, workspaceId: string, now: Date, scan: OutreachScan): Promise<void> {
  const { db, log } = deps;
  const settings = await getPlaySettings(db, workspaceId, play.play);
  if (settings.rollout.mode === 'off') {
    // Rows opened just before the play went off: their workflow, which would have ended them, never starts.
    scan.swept += await play.rows.closeUnstarted(db, workspaceId, play.closedOff, now);
    scan.swept += await sweepOverdue(deps, play, workspaceId, now);
    return;
  }
  scan.workspaces++;
  const { candidates, opened } = await play.open(db, workspaceId, settings, now);
  scan.candidates += candidates;
  scan.opened += opened;
  for (const row of await play.rows.unstarted(db, workspaceId)) {
    await startWorkflow(deps, play, row);
    scan.started++;
  }
  scan.swept += await sweepOverdue(deps, play, workspaceId, now);
  log.info({ workspaceId, play: play.play, candidates, opened }, `${play.name}: workspace scanned`);
}

/**
 * Closes open rows whose workflow is no longer running (terminated or reset by an
 * operator): only the workflow closes a row, and an open one keeps the customer from
 * any other. Asked of Temporal only for rows open past the review window.
 */
async function sweepOverdue<T extends Outreach, Outcome extends string, W extends keyof OutreachWorkflows>(deps: OutreachScanDeps, play: OutreachPlay<T, Outcome, W>, workspaceId: string, now: Date): Promise<number> {
  let swept = 0;
  for (const row of await play.rows.overdue(deps.db, workspaceId, new Date(now.getTime() - play.overdueAfterMs))) {
    let running: boolean;
    try {
      running = (await deps.client.workflow.getHandle(row.workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      running = false;
    }
    if (running) continue;
    await play.rows.close(deps.db, row.id, play.closedLost, now);
    deps.log.warn({ workspaceId, play: play.play, id: row.id, workflowId: row.workflowId }, `${play.name}: closed an outreach whose workflow is gone`);
    swept++;
  }
  return swept;
}

/** Starts a row's workflow, once ever (an id already used answers as started), and records it. */
async function startWorkflow<T extends Outreach, Outcome extends string, W extends keyof OutreachWorkflows>(deps: OutreachScanDeps, play: OutreachPlay<T, Outcome, W>, row: T): Promise<void> {
  try {
    await deps.client.workflow.start(play.workflowType, {
      workflowId: row.workflowId,
      taskQueue: deps.taskQueue,
      args: [{ ...play.workflowArgs(row), workspaceId: row.workspaceId, customerId: row.customerId, workflowId: row.workflowId }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: WORKSPACE_ID, value: row.workspaceId },
        { key: CUSTOMER_ID, value: row.customerId },
        { key: PLAY, value: play.play },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  await play.rows.markStarted(deps.db, row.id);
}
