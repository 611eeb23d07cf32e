import { churnRisks } from '../db/churn-risk';
import { churnSaveRows, openChurnSaves, type ChurnSave } from '../db/churn-saves';
import { CHURN_PLAY, churnSettings, type ChurnSaveOutcome } from '../domain/churn-save';
import { SAVE_REVIEW_WINDOW_MS } from '../domain/churn-save-timing';
import { scanOutreach, type OutreachPlay, type OutreachScan, type OutreachScanDeps } from './outreach-scan';
import { DAY_MS } from '../domain/durations';

export type ChurnRadarDeps = OutreachScanDeps;

export interface RadarScan extends Omit<OutreachScan, 'candidates'> {
  /** Customers at or above their workspace's threshold. */
  atRisk: number;
}

/**
 * The churn radar as a scanned play: the customers whose risk is at or above the
 * workspace's threshold get a save (db/churn-saves.ts decides which: none open, none
 * within the cooldown, not in dunning).
 */
export const CHURN_RADAR: OutreachPlay<ChurnSave, ChurnSaveOutcome, 'churnSaveWorkflow'> = {
  play: CHURN_PLAY,
  name: 'churn radar',
  workflowType: 'churnSaveWorkflow',
  workflowArgs: (save) => ({ saveId: save.id }),
  rows: churnSaveRows,
  closedOff: 'off',
  closedLost: 'lost',
  // A day past the review window: a save still open then has lost its workflow.
  overdueAfterMs: SAVE_REVIEW_WINDOW_MS + DAY_MS,
  async open(db, workspaceId, play, now) {
    const settings = churnSettings(play.config);
    const candidates = [...(await churnRisks(db, workspaceId, now))]
      .filter(([, risk]) => risk.score >= settings.threshold)
      .map(([customerId, risk]) => ({ customerId, score: risk.score, reasons: risk.reasons }));
    const opened = await openChurnSaves(db, workspaceId, candidates, { threshold: settings.threshold, cooldownDays: settings.cooldownDays, now });
    return { candidates: candidates.length, opened: opened.length };
  },
};

/** One look at every workspace whose churn play is not off (activities/outreach-scan.ts). */
export async function scanChurnRadar(deps: ChurnRadarDeps, now: Date, onlyWorkspaces?: string[], stopping?: () => boolean): Promise<RadarScan> {
  const { candidates, ...scan } = await scanOutreach(deps, CHURN_RADAR, now, onlyWorkspaces, stopping);
  return { ...scan, atRisk: candidates };
}
