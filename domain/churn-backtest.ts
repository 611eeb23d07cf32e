import { RISK_THRESHOLDS, riskLevel, type RiskLevel } from './churn-risk';
import { DAY_MS } from './durations';

/**
 * How the churn risk would have done: scored as of past checkpoints from what was
 * known then (db/churn-risk.ts, churnRisksAt), against who actually churned after.
 * A customer flagged at a checkpoint who churned within the horizon is a catch; a
 * flagged one who stayed, a false alarm; one who churned unflagged, a miss.
 */

export interface BacktestCheckpoint {
  at: string;
  /** Each customer live then, with their score then. */
  scores: Map<string, number>;
}

export interface LevelReport {
  /**
   * "medium" counts medium and high: the customers at or above the level; "threshold"
   * those at or above the score the workspace's churn radar reaches out at.
   */
  level: Exclude<RiskLevel, 'low'> | 'threshold';
  /** The least score the row counts as flagged. */
  minScore: number;
  /** Customer-checkpoints flagged, and of those the ones that churned within the horizon. */
  flagged: number;
  caught: number;
  /** Customer-checkpoints followed by a churn within the horizon, and of those the ones flagged. */
  churned: number;
  /** caught / flagged and caught / churned; null with nothing to divide by. */
  precision: number | null;
  recall: number | null;
  /** For each churn seen coming, days from the earliest checkpoint that flagged it (within the horizon before it) to the churn: the median. */
  medianLeadDays: number | null;
  /** Churns the checkpoints saw coming, of those that had a checkpoint within the horizon before them. */
  churnsSeenComing: number;
  churnsWithCheckpoint: number;
}

export interface BacktestReport {
  horizonDays: number;
  /** Checkpoints whose horizon has passed: only they count in precision and recall. */
  checkpoints: { at: string; customers: number; medium: number; high: number; churnedWithin: number | null }[];
  levels: LevelReport[];
}

const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 1000) / 1000);

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * `churns`: each customer's churns (MRR to zero), as times. `threshold`: the churn
 * radar's score, reported as a row of its own after the two levels.
 */
export function backtestReport(checkpoints: BacktestCheckpoint[], churns: Map<string, string[]>, horizonDays: number, now: Date, threshold?: number): BacktestReport {
  const horizon = horizonDays * DAY_MS;
  const churnTimes = new Map([...churns].map(([id, ts]) => [id, ts.map((t) => Date.parse(t))]));
  const churnsWithin = (customerId: string, from: number) => (churnTimes.get(customerId) ?? []).some((c) => c > from && c <= from + horizon);
  const complete = checkpoints.filter((c) => Date.parse(c.at) + horizon <= now.getTime());

  const rows: { level: LevelReport['level']; minScore: number }[] = [
    { level: 'high', minScore: RISK_THRESHOLDS.high },
    { level: 'medium', minScore: RISK_THRESHOLDS.medium },
    ...(threshold === undefined ? [] : [{ level: 'threshold' as const, minScore: threshold }]),
  ];
  const levels: LevelReport[] = rows.map(({ level, minScore }) => {
    const flaggedAt = (scoreThen: number) => scoreThen >= minScore;
    let flagged = 0;
    let caught = 0;
    let churned = 0;
    for (const cp of complete) {
      const t = Date.parse(cp.at);
      for (const [customerId, scoreThen] of cp.scores) {
        const left = churnsWithin(customerId, t);
        const flag = flaggedAt(scoreThen);
        if (flag) flagged += 1;
        if (left) churned += 1;
        if (flag && left) caught += 1;
      }
    }
    // How early: for each churn, the earliest checkpoint in the horizon before it that flagged the customer.
    const leads: number[] = [];
    let withCheckpoint = 0;
    for (const [customerId, times] of churnTimes) {
      for (const c of times) {
        const before = checkpoints.filter((cp) => {
          const t = Date.parse(cp.at);
          return t < c && t >= c - horizon && cp.scores.has(customerId);
        });
        if (!before.length) continue;
        withCheckpoint += 1;
        const first = before.filter((cp) => flaggedAt(cp.scores.get(customerId)!)).map((cp) => Date.parse(cp.at));
        if (first.length) leads.push(Math.round((c - Math.min(...first)) / DAY_MS));
      }
    }
    return {
      level,
      minScore,
      flagged,
      caught,
      churned,
      precision: ratio(caught, flagged),
      recall: ratio(caught, churned),
      medianLeadDays: median(leads),
      churnsSeenComing: leads.length,
      churnsWithCheckpoint: withCheckpoint,
    };
  });

  return {
    horizonDays,
    checkpoints: checkpoints.map((cp) => {
      const t = Date.parse(cp.at);
      const values = [...cp.scores.values()].map(riskLevel);
      return {
        at: cp.at,
        customers: cp.scores.size,
        medium: values.filter((l) => l === 'medium').length,
        high: values.filter((l) => l === 'high').length,
        churnedWithin: t + horizon <= now.getTime() ? [...cp.scores.keys()].filter((id) => churnsWithin(id, t)).length : null,
      };
    }),
    levels,
  };
}

/** The checkpoints of a backtest: every `stepDays` back from `now` over `days`, oldest first. */
export function checkpointTimes(now: Date, days: number, stepDays: number): Date[] {
  const out: Date[] = [];
  for (let back = 0; back <= days; back += stepDays) out.push(new Date(now.getTime() - back * DAY_MS));
  return out.reverse();
}
