import { COHORT_FIELDS, MONTH_FIELDS, parseCohortKey, type Aggregates, type CohortRow, type MonthRow } from './contributions';
import { monthLabel, type MonthIndex } from './months';

export const GRANULARITIES = ['month', 'quarter', 'year'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export interface Period {
  label: string;
  first: MonthIndex;
  last: MonthIndex;
}

/** The calendar periods covering months from..to (whole periods, clipped to the range). */
export function periods(from: MonthIndex, to: MonthIndex, granularity: Granularity): Period[] {
  const size = granularity === 'month' ? 1 : granularity === 'quarter' ? 3 : 12;
  const out: Period[] = [];
  let m = from;
  while (m <= to) {
    const first = m;
    const last = Math.min(to, m - (m % size) + size - 1);
    const year = Math.floor(first / 12);
    const label = granularity === 'month' ? monthLabel(first) : granularity === 'quarter' ? `${year}-Q${Math.floor((first % 12) / 3) + 1}` : `${year}`;
    out.push({ label, first, last });
    m = last + 1;
  }
  return out;
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : Math.round((num / den) * 1e6) / 1e6);

/** Running totals read off the month rows: MRR and paying customers at each month end. */
export class Ledger {
  private readonly keys: MonthIndex[];
  private readonly mrrEnd = new Map<MonthIndex, number>();
  private readonly payingEnd = new Map<MonthIndex, number>();

  constructor(private readonly agg: Aggregates) {
    this.keys = [...agg.months.keys()].sort((a, b) => a - b);
    let mrr = 0;
    let paying = 0;
    for (const k of this.keys) {
      const row = agg.months.get(k)!;
      mrr += row.mrr_delta;
      paying += row.paying_delta;
      this.mrrEnd.set(k, mrr);
      this.payingEnd.set(k, paying);
    }
  }

  private at(map: Map<MonthIndex, number>, month: MonthIndex): number {
    let value = 0;
    for (const k of this.keys) {
      if (k > month) break;
      value = map.get(k)!;
    }
    return value;
  }

  mrr(month: MonthIndex): number {
    return this.at(this.mrrEnd, month);
  }

  customers(month: MonthIndex): number {
    return this.at(this.payingEnd, month);
  }

  /** Month rows summed over a period. */
  sum(first: MonthIndex, last: MonthIndex): MonthRow {
    const total = Object.fromEntries(MONTH_FIELDS.map((f) => [f, 0])) as unknown as MonthRow;
    for (let m = first; m <= last; m++) {
      const row = this.agg.months.get(m);
      if (row) for (const f of MONTH_FIELDS) total[f] += row[f];
    }
    return total;
  }

  /** The first month with any movement, if any. */
  firstMonth(): MonthIndex | undefined {
    return this.keys[0];
  }
}

export interface MrrPoint {
  period: string;
  mrr: number;
  customers: number;
  arpa: number | null;
}

export function mrrSeries(ledger: Ledger, from: MonthIndex, to: MonthIndex, granularity: Granularity): MrrPoint[] {
  return periods(from, to, granularity).map((p) => {
    const mrr = ledger.mrr(p.last);
    const customers = ledger.customers(p.last);
    return { period: p.label, mrr, customers, arpa: customers === 0 ? null : Math.round(mrr / customers) };
  });
}

export interface MovementsPoint {
  period: string;
  startMrr: number;
  new: number;
  expansion: number;
  contraction: number;
  churn: number;
  reactivation: number;
  net: number;
  endMrr: number;
  counts: { new: number; expansion: number; contraction: number; churn: number; reactivation: number };
}

export function movementsSeries(ledger: Ledger, from: MonthIndex, to: MonthIndex, granularity: Granularity): MovementsPoint[] {
  return periods(from, to, granularity).map((p) => {
    const s = ledger.sum(p.first, p.last);
    return {
      period: p.label,
      startMrr: ledger.mrr(p.first - 1),
      new: s.new_mrr,
      expansion: s.expansion_mrr,
      contraction: s.contraction_mrr,
      churn: s.churn_mrr,
      reactivation: s.reactivation_mrr,
      net: s.mrr_delta,
      endMrr: ledger.mrr(p.last),
      counts: {
        new: s.new_customers,
        expansion: s.expansion_count,
        contraction: s.contraction_count,
        churn: s.churned_customers,
        reactivation: s.reactivated_customers,
      },
    };
  });
}

export interface ChurnRatePoint {
  period: string;
  customersAtStart: number;
  churnedCustomers: number;
  /** Churned customers / customers paying at the start of the period. */
  customerChurnRate: number | null;
  /** (churn + contraction) / MRR at the start of the period. */
  grossMrrChurnRate: number | null;
  /** (churn + contraction - expansion - reactivation) / MRR at the start. */
  netMrrChurnRate: number | null;
}

export function churnRateSeries(ledger: Ledger, from: MonthIndex, to: MonthIndex, granularity: Granularity): ChurnRatePoint[] {
  return periods(from, to, granularity).map((p) => {
    const s = ledger.sum(p.first, p.last);
    const atStart = ledger.customers(p.first - 1);
    const startMrr = ledger.mrr(p.first - 1);
    const lost = Math.abs(s.churn_mrr + s.contraction_mrr);
    return {
      period: p.label,
      customersAtStart: atStart,
      churnedCustomers: s.churned_customers,
      customerChurnRate: ratio(s.churned_customers, atStart),
      grossMrrChurnRate: ratio(lost, startMrr),
      netMrrChurnRate: ratio(lost - s.expansion_mrr - s.reactivation_mrr, startMrr),
    };
  });
}

export interface QuickRatioPoint {
  period: string;
  gained: number;
  lost: number;
  /** (new + expansion + reactivation) / (churn + contraction), null when nothing was lost. */
  quickRatio: number | null;
}

export function quickRatioSeries(ledger: Ledger, from: MonthIndex, to: MonthIndex, granularity: Granularity): QuickRatioPoint[] {
  return periods(from, to, granularity).map((p) => {
    const s = ledger.sum(p.first, p.last);
    const gained = s.new_mrr + s.expansion_mrr + s.reactivation_mrr;
    const lost = Math.abs(s.churn_mrr + s.contraction_mrr);
    return { period: p.label, gained, lost, quickRatio: ratio(gained, lost) };
  });
}

export interface LtvPoint {
  period: string;
  arpa: number | null;
  /** Average of the monthly customer churn rates of the trailing six months that have one. */
  trailingChurnRate: number | null;
  ltv: number | null;
}

/** LTV = ARPA / trailing 6-month average customer churn rate (months only). */
export function ltvSeries(ledger: Ledger, from: MonthIndex, to: MonthIndex): LtvPoint[] {
  return periods(from, to, 'month').map((p) => {
    const customers = ledger.customers(p.last);
    const arpa = customers === 0 ? null : ledger.mrr(p.last) / customers;
    const rates: number[] = [];
    for (let m = p.last - 5; m <= p.last; m++) {
      const atStart = ledger.customers(m - 1);
      if (atStart > 0) rates.push(ledger.sum(m, m).churned_customers / atStart);
    }
    const trailing = rates.length === 0 ? null : rates.reduce((a, b) => a + b, 0) / rates.length;
    return {
      period: p.label,
      arpa: arpa === null ? null : Math.round(arpa),
      trailingChurnRate: trailing === null ? null : Math.round(trailing * 1e6) / 1e6,
      ltv: arpa === null || !trailing ? null : Math.round(arpa / trailing),
    };
  });
}

export interface RetentionPoint {
  period: string;
  /** MRR of the customers paying at the base month end (1 or 12 months earlier). */
  startMrr: number;
  retainedMrr: number;
  endMrr: number;
  /** (start - contraction - churn) / start, per customer netted over the window. */
  grr: number | null;
  /** (start + expansion - contraction - churn) / start. */
  nrr: number | null;
}

/**
 * GRR and NRR of each month against the previous month end (`window` 1) or the month
 * end twelve months earlier (12). New and reactivated customers are not counted;
 * a customer who churned and came back within the window counts with their end MRR.
 */
export function retentionSeries(ledger: Ledger, from: MonthIndex, to: MonthIndex, window: 1 | 12): RetentionPoint[] {
  return periods(from, to, 'month').map((p) => {
    const s = ledger.sum(p.first, p.first);
    const startMrr = ledger.mrr(p.first - window);
    const loss = window === 1 ? s.grr1_loss : s.grr12_loss;
    const change = window === 1 ? s.nrr1_change : s.nrr12_change;
    return {
      period: p.label,
      startMrr,
      retainedMrr: startMrr - loss,
      endMrr: startMrr + change,
      grr: ratio(startMrr - loss, startMrr),
      nrr: ratio(startMrr + change, startMrr),
    };
  });
}

export interface CohortCurve {
  cohort: string;
  customers: number;
  initialMrr: number;
  /** Age 0 is the cohort month itself; values are at each month end. */
  ages: { age: number; period: string; customers: number; mrr: number; customerRetention: number | null; mrrRetention: number | null }[];
}

/** Cohorts whose first-payment month lies in from..to, followed up to `until`. */
export function cohortCurves(agg: Aggregates, from: MonthIndex, to: MonthIndex, until: MonthIndex): CohortCurve[] {
  const byCohort = new Map<MonthIndex, Map<MonthIndex, CohortRow>>();
  for (const [key, row] of agg.cohorts) {
    const { cohort, month } = parseCohortKey(key);
    if (cohort < from || cohort > to) continue;
    const rows = byCohort.get(cohort) ?? new Map<MonthIndex, CohortRow>();
    rows.set(month, row);
    byCohort.set(cohort, rows);
  }
  return [...byCohort.keys()]
    .sort((a, b) => a - b)
    .map((cohort) => {
      const rows = byCohort.get(cohort)!;
      const base = rows.get(cohort) ?? (Object.fromEntries(COHORT_FIELDS.map((f) => [f, 0])) as unknown as CohortRow);
      let mrr = 0;
      let paying = 0;
      const ages: CohortCurve['ages'] = [];
      for (let m = cohort; m <= until; m++) {
        const row = rows.get(m);
        if (row) {
          mrr += row.mrr_delta;
          paying += row.paying_delta;
        }
        ages.push({
          age: m - cohort,
          period: monthLabel(m),
          customers: paying,
          mrr,
          customerRetention: ratio(paying, base.customers),
          mrrRetention: ratio(mrr, base.initial_mrr),
        });
      }
      return { cohort: monthLabel(cohort), customers: base.customers, initialMrr: base.initial_mrr, ages };
    });
}

export interface NpsPoint {
  cohort: string;
  responses: number;
  promoters: number;
  detractors: number;
  /** % promoters - % detractors, -100..100; null without responses. */
  nps: number | null;
}

export function npsByCohort(agg: Aggregates, from: MonthIndex, to: MonthIndex): NpsPoint[] {
  return [...agg.nps]
    .filter(([c]) => c >= from && c <= to)
    .sort(([a], [b]) => a - b)
    .map(([c, row]) => ({
      cohort: monthLabel(c),
      ...row,
      nps: row.responses === 0 ? null : Math.round(((row.promoters - row.detractors) / row.responses) * 1000) / 10,
    }));
}
