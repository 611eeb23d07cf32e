import { describe, expect, it } from 'vitest';
import {
  Ledger,
  aggregateAll,
  analyticsSettingsSchema,
  churnRateSeries,
  cohortCurves,
  computeCustomerMrr,
  createConverter,
  customerContribution,
  ltvSeries,
  movementsSeries,
  mrrSeries,
  npsByCohort,
  parseMonth,
  quickRatioSeries,
  retentionSeries,
  type NpsSignal,
} from '../../domain/mrr';
import { at, CustomerBuilder } from './mrr-builder';

/*
 * Three customers, figures worked out by hand:
 *   A: 2 seats x 10.00 from 2025-01-01, 3 seats from 2025-02-10, churns 2025-04-01.
 *   B: 10.00 from 2025-01-15, adds a 5.00 add-on 2025-06-01.
 *   C: 50.00 from 2025-02-01, a 10.00-off coupon from 2025-03-01 on.
 */
const a = new CustomerBuilder('A')
  .price('seat', 1000)
  .subscription('sub_a', { status: 'canceled', ended_at: at('2025-04-01'), canceled_at: at('2025-03-05') })
  .invoice('sub_a', 'paid', '2025-01-01', [{ price: 'seat', amount: 2000, quantity: 2, start: '2025-01-01', end: '2025-02-01' }])
  .invoice('sub_a', 'paid', '2025-02-01', [{ price: 'seat', amount: 2000, quantity: 2, start: '2025-02-01', end: '2025-03-01' }])
  .invoice('sub_a', 'paid', '2025-02-10', [
    { price: 'seat', amount: -1286, quantity: 2, proration: true, start: '2025-02-10', end: '2025-03-01' },
    { price: 'seat', amount: 1929, quantity: 3, proration: true, start: '2025-02-10', end: '2025-03-01' },
  ])
  .invoice('sub_a', 'paid', '2025-03-01', [{ price: 'seat', amount: 3000, quantity: 3, start: '2025-03-01', end: '2025-04-01' }]);
const b = new CustomerBuilder('B')
  .price('pro', 1000)
  .price('addon', 500)
  .subscription('sub_b1', { items: ['pro'], current_period_end: at('2025-03-15') })
  .monthly('sub_b1', 'pro', 1000, '2025-01', 2, { day: 15 })
  .subscription('sub_b2', { items: ['addon'], current_period_end: at('2025-07-01') })
  .monthly('sub_b2', 'addon', 500, '2025-06', 1);
const c = new CustomerBuilder('C')
  .price('big', 5000)
  .subscription('sub_c', { items: ['big'], current_period_end: at('2025-05-01') })
  .monthly('sub_c', 'big', 5000, '2025-02', 3, { discount: (i) => (i === 0 ? 0 : 1000) });

const nps: NpsSignal[] = [
  { customerId: 'A', score: 9, at: at('2025-03-01') },
  { customerId: 'A', score: 6, at: at('2025-03-20') },
  { customerId: 'B', score: 10, at: at('2025-02-01') },
  { customerId: 'C', score: 3, at: at('2025-03-01') },
];

const settings = analyticsSettingsSchema.parse({});
const agg = aggregateAll(
  [a, b, c].map((x) => {
    const { movements } = computeCustomerMrr(x.build(), settings, createConverter('usd', []));
    return customerContribution(movements, nps.filter((n) => n.customerId === x.id));
  }),
);
const ledger = new Ledger(agg);
const M = parseMonth;

describe('workspace metrics of a hand-computed account', () => {
  it('MRR, customers and ARPA at each month end', () => {
    expect(mrrSeries(ledger, M('2025-01'), M('2025-06'), 'month')).toEqual([
      { period: '2025-01', mrr: 3000, customers: 2, arpa: 1500 },
      { period: '2025-02', mrr: 9000, customers: 3, arpa: 3000 },
      { period: '2025-03', mrr: 8000, customers: 3, arpa: 2667 },
      { period: '2025-04', mrr: 5000, customers: 2, arpa: 2500 },
      { period: '2025-05', mrr: 5000, customers: 2, arpa: 2500 },
      { period: '2025-06', mrr: 5500, customers: 2, arpa: 2750 },
    ]);
    expect(mrrSeries(ledger, M('2025-01'), M('2025-06'), 'quarter')).toEqual([
      { period: '2025-Q1', mrr: 8000, customers: 3, arpa: 2667 },
      { period: '2025-Q2', mrr: 5500, customers: 2, arpa: 2750 },
    ]);
  });

  it('movements per month and per quarter (expansion vs contraction breakdown)', () => {
    const [jan, feb, mar, apr] = movementsSeries(ledger, M('2025-01'), M('2025-04'), 'month');
    expect(jan).toMatchObject({ startMrr: 0, new: 3000, expansion: 0, net: 3000, endMrr: 3000, counts: { new: 2 } });
    expect(feb).toMatchObject({ startMrr: 3000, new: 5000, expansion: 1000, contraction: 0, net: 6000, counts: { new: 1, expansion: 1 } });
    expect(mar).toMatchObject({ contraction: -1000, net: -1000, counts: { contraction: 1 } });
    expect(apr).toMatchObject({ churn: -3000, endMrr: 5000, counts: { churn: 1 } });
    expect(movementsSeries(ledger, M('2025-01'), M('2025-03'), 'quarter')[0]).toMatchObject({
      period: '2025-Q1', new: 8000, expansion: 1000, contraction: -1000, churn: 0, reactivation: 0, net: 8000,
    });
  });

  it('monthly GRR and NRR count only customers paying at the start of the month', () => {
    expect(retentionSeries(ledger, M('2025-02'), M('2025-04'), 1)).toEqual([
      // C is new in February: not in the base. A grows 20.00 -> 30.00.
      { period: '2025-02', startMrr: 3000, retainedMrr: 3000, endMrr: 4000, grr: 1, nrr: 1.333333 },
      { period: '2025-03', startMrr: 9000, retainedMrr: 8000, endMrr: 8000, grr: 0.888889, nrr: 0.888889 },
      { period: '2025-04', startMrr: 8000, retainedMrr: 5000, endMrr: 5000, grr: 0.625, nrr: 0.625 },
    ]);
  });

  it('trailing-12-month GRR and NRR compare with the month end a year earlier', () => {
    // Base: January 2025 (A 20.00, B 10.00). A churned; B grew to 15.00.
    expect(retentionSeries(ledger, M('2026-01'), M('2026-01'), 12)).toEqual([
      { period: '2026-01', startMrr: 3000, retainedMrr: 1000, endMrr: 1500, grr: 0.333333, nrr: 0.5 },
    ]);
  });

  it('customer churn rate, MRR churn rates, quick ratio and LTV', () => {
    const apr = churnRateSeries(ledger, M('2025-04'), M('2025-04'), 'month')[0];
    expect(apr).toEqual({ period: '2025-04', customersAtStart: 3, churnedCustomers: 1, customerChurnRate: 0.333333, grossMrrChurnRate: 0.375, netMrrChurnRate: 0.375 });
    expect(churnRateSeries(ledger, M('2025-04'), M('2025-06'), 'quarter')[0]).toMatchObject({ period: '2025-Q2', customersAtStart: 3, churnedCustomers: 1 });
    expect(quickRatioSeries(ledger, M('2025-02'), M('2025-04'), 'month')).toEqual([
      { period: '2025-02', gained: 6000, lost: 0, quickRatio: null },
      { period: '2025-03', gained: 0, lost: 1000, quickRatio: 0 },
      { period: '2025-04', gained: 0, lost: 3000, quickRatio: 0 },
    ]);
    // Months with customers at their start: Feb 0/2, Mar 0/3, Apr 1/3 -> 1/9; 2500 x 9.
    expect(ltvSeries(ledger, M('2025-04'), M('2025-04'))).toEqual([{ period: '2025-04', arpa: 2500, trailingChurnRate: 0.111111, ltv: 22500 }]);
  });

  it('cohorts by month of first payment, with customer and net MRR retention', () => {
    const [jan, feb] = cohortCurves(agg, M('2025-01'), M('2025-12'), M('2025-06'));
    expect(jan?.cohort).toBe('2025-01');
    expect(jan?.customers).toBe(2);
    expect(jan?.initialMrr).toBe(3000);
    expect(jan?.ages.map((x) => [x.age, x.customers, x.mrr, x.customerRetention, x.mrrRetention])).toEqual([
      [0, 2, 3000, 1, 1],
      [1, 2, 4000, 1, 1.333333],
      [2, 2, 4000, 1, 1.333333],
      [3, 1, 1000, 0.5, 0.333333],
      [4, 1, 1000, 0.5, 0.333333],
      [5, 1, 1500, 0.5, 0.5],
    ]);
    expect(feb?.ages.slice(0, 2).map((x) => [x.customers, x.mrr, x.mrrRetention])).toEqual([
      [1, 5000, 1],
      [1, 4000, 0.8],
    ]);
  });

  it('NPS by cohort from each customer\'s latest answer', () => {
    expect(npsByCohort(agg, M('2025-01'), M('2025-12'))).toEqual([
      { cohort: '2025-01', responses: 2, promoters: 1, detractors: 1, nps: 0 },
      { cohort: '2025-02', responses: 1, promoters: 0, detractors: 1, nps: -100 },
    ]);
  });
});
