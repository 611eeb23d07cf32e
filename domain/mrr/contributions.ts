import type { Movement, MovementKind } from './customer';
import type { NpsSignal } from './mirror';
import { monthOf, type MonthIndex } from './months';

/**
 * Every stored aggregate is a sum of per-customer contributions, so one customer's
 * recompute updates the aggregates by (new contribution - old contribution) and the
 * result equals a full recompute. Contributions exist only for months in which the
 * customer moved (or, for trailing-12 retention, the 11 months after), which keeps
 * them independent of today's date.
 */
export interface MonthRow {
  new_mrr: number;
  expansion_mrr: number;
  contraction_mrr: number;
  churn_mrr: number;
  reactivation_mrr: number;
  new_customers: number;
  expansion_count: number;
  contraction_count: number;
  churned_customers: number;
  reactivated_customers: number;
  /** Change of paying customers: +1 new or reactivated, -1 churned. */
  paying_delta: number;
  /** Sum of all movements: MRR at a month end is the running sum of this. */
  mrr_delta: number;
  /** For customers paying at the previous month end: max(0, start - end). */
  grr1_loss: number;
  /** For customers paying at the previous month end: end - start. */
  nrr1_change: number;
  /** The same against the customer's MRR twelve month ends earlier. */
  grr12_loss: number;
  nrr12_change: number;
}

export interface CohortRow {
  /** Customers whose first payment fell in the cohort month (only in the cohort's own month). */
  customers: number;
  /** Their MRR at first payment. */
  initial_mrr: number;
  /** Change of the cohort's MRR in this month (the new-business movement included). */
  mrr_delta: number;
  paying_delta: number;
}

export interface NpsRow {
  responses: number;
  promoters: number;
  detractors: number;
}

export const MONTH_FIELDS = [
  'new_mrr', 'expansion_mrr', 'contraction_mrr', 'churn_mrr', 'reactivation_mrr', 'new_customers', 'expansion_count',
  'contraction_count', 'churned_customers', 'reactivated_customers', 'paying_delta', 'mrr_delta', 'grr1_loss',
  'nrr1_change', 'grr12_loss', 'nrr12_change',
] as const satisfies readonly (keyof MonthRow)[];
export const COHORT_FIELDS = ['customers', 'initial_mrr', 'mrr_delta', 'paying_delta'] as const satisfies readonly (keyof CohortRow)[];
export const NPS_FIELDS = ['responses', 'promoters', 'detractors'] as const satisfies readonly (keyof NpsRow)[];

/** Keyed rows: months by month index; cohort rows by `${cohort}:${month}`; NPS by cohort. */
export interface Aggregates {
  months: Map<MonthIndex, MonthRow>;
  cohorts: Map<string, CohortRow>;
  nps: Map<MonthIndex, NpsRow>;
}

export const cohortKey = (cohort: MonthIndex, month: MonthIndex) => `${cohort}:${month}`;
export function parseCohortKey(key: string): { cohort: MonthIndex; month: MonthIndex } {
  const [cohort, month] = key.split(':').map(Number);
  return { cohort: cohort!, month: month! };
}

export const emptyAggregates = (): Aggregates => ({ months: new Map(), cohorts: new Map(), nps: new Map() });

const zeroRow = <F extends string>(fields: readonly F[]) => Object.fromEntries(fields.map((f) => [f, 0])) as Record<F, number>;

/** The month of a customer's first payment, or null if they never paid. */
export function cohortOf(movements: readonly Movement[]): MonthIndex | null {
  const first = movements.find((m) => m.kind === 'new');
  return first ? monthOf(first.at) : null;
}

const MOVEMENT_COLUMNS: Record<MovementKind, { mrr: keyof MonthRow; count: keyof MonthRow }> = {
  new: { mrr: 'new_mrr', count: 'new_customers' },
  expansion: { mrr: 'expansion_mrr', count: 'expansion_count' },
  contraction: { mrr: 'contraction_mrr', count: 'contraction_count' },
  churn: { mrr: 'churn_mrr', count: 'churned_customers' },
  reactivation: { mrr: 'reactivation_mrr', count: 'reactivated_customers' },
};

/** A customer's MRR at the end of `month`, from their movements (sorted by time). */
export function mrrAtMonthEnd(movements: readonly Movement[], month: MonthIndex): number {
  let mrr = 0;
  for (const m of movements) {
    if (monthOf(m.at) > month) break;
    mrr = m.mrrAfter;
  }
  return mrr;
}

/** Latest NPS score per customer, at or before `asOf` when given. */
export function latestNps(signals: readonly NpsSignal[]): NpsSignal | undefined {
  let latest: NpsSignal | undefined;
  for (const s of signals) if (!latest || s.at.getTime() >= latest.at.getTime()) latest = s;
  return latest;
}

/** One customer's contribution to every aggregate. */
export function customerContribution(movements: readonly Movement[], nps: readonly NpsSignal[] = []): Aggregates {
  const out = emptyAggregates();
  const month = (m: MonthIndex) => {
    let row = out.months.get(m);
    if (!row) out.months.set(m, (row = zeroRow(MONTH_FIELDS)));
    return row;
  };
  const cohort = cohortOf(movements);
  const cohortRow = (m: MonthIndex) => {
    const key = cohortKey(cohort!, m);
    let row = out.cohorts.get(key);
    if (!row) out.cohorts.set(key, (row = zeroRow(COHORT_FIELDS)));
    return row;
  };
  const movedIn = new Set<MonthIndex>();
  for (const mv of movements) {
    const m = monthOf(mv.at);
    movedIn.add(m);
    const row = month(m);
    const cols = MOVEMENT_COLUMNS[mv.kind];
    row[cols.mrr] += mv.amount;
    row[cols.count] += 1;
    row.mrr_delta += mv.amount;
    const paying = mv.kind === 'new' || mv.kind === 'reactivation' ? 1 : mv.kind === 'churn' ? -1 : 0;
    row.paying_delta += paying;
    if (cohort !== null) {
      const c = cohortRow(m);
      c.mrr_delta += mv.amount;
      c.paying_delta += paying;
      if (mv.kind === 'new') {
        c.customers += 1;
        c.initial_mrr += mv.amount;
      }
    }
  }
  // Retention compares each customer's MRR at two month ends; it can only differ
  // when the customer moved in between.
  const windows: [number, keyof MonthRow, keyof MonthRow][] = [
    [1, 'grr1_loss', 'nrr1_change'],
    [12, 'grr12_loss', 'nrr12_change'],
  ];
  for (const [span, lossField, changeField] of windows) {
    const affected = new Set<MonthIndex>();
    for (const m of movedIn) for (let k = 0; k < span; k++) affected.add(m + k);
    for (const m of affected) {
      const start = mrrAtMonthEnd(movements, m - span);
      if (start <= 0) continue;
      const end = mrrAtMonthEnd(movements, m);
      if (end === start) continue;
      const row = month(m);
      row[lossField] += Math.max(0, start - end);
      row[changeField] += end - start;
    }
  }
  const answer = latestNps(nps);
  if (answer && cohort !== null) {
    out.nps.set(cohort, { responses: 1, promoters: answer.score >= 9 ? 1 : 0, detractors: answer.score <= 6 ? 1 : 0 });
  }
  return out;
}

function addRows<R extends object>(into: Map<string | number, R>, from: Map<string | number, R>, fields: readonly (keyof R)[], sign: 1 | -1) {
  for (const [key, row] of from) {
    const target = into.get(key) ?? (Object.fromEntries(fields.map((f) => [f, 0])) as R);
    let zero = true;
    for (const f of fields) {
      const v = (target[f] as number) + sign * (row[f] as number);
      (target[f] as number) = v;
      if (v !== 0) zero = false;
    }
    // Rows that sum to nothing are dropped, so equal figures mean equal maps.
    if (zero) into.delete(key);
    else into.set(key, target);
  }
}

/** Adds (sign 1) or removes (sign -1) a contribution, in place. */
export function applyContribution(into: Aggregates, contribution: Aggregates, sign: 1 | -1): Aggregates {
  addRows(into.months as Map<string | number, MonthRow>, contribution.months as Map<string | number, MonthRow>, MONTH_FIELDS, sign);
  addRows(into.cohorts as Map<string | number, CohortRow>, contribution.cohorts as Map<string | number, CohortRow>, COHORT_FIELDS, sign);
  addRows(into.nps as Map<string | number, NpsRow>, contribution.nps as Map<string | number, NpsRow>, NPS_FIELDS, sign);
  return into;
}

/** The rows to add to stored aggregates when a customer's contribution changes from `before` to `after`. */
export function contributionDelta(before: Aggregates, after: Aggregates): Aggregates {
  return contributionsDelta([{ before, after }]);
}

/**
 * The rows to add to stored aggregates when several customers' contributions change
 * at once: the sum of their deltas. Addition commutes, so applying this one delta
 * leaves the same rows as applying each customer's delta in turn.
 */
export function contributionsDelta(changes: Iterable<{ before: Aggregates; after: Aggregates }>): Aggregates {
  const total = emptyAggregates();
  for (const { before, after } of changes) applyContribution(applyContribution(total, after, 1), before, -1);
  return total;
}

/** Aggregates of a whole workspace: the sum of every customer's contribution. */
export function aggregateAll(contributions: Iterable<Aggregates>): Aggregates {
  const total = emptyAggregates();
  for (const c of contributions) applyContribution(total, c, 1);
  return total;
}
