import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Ledger,
  aggregateAll,
  analyticsSettingsSchema,
  applyContribution,
  computeCustomerMrr,
  contributionDelta,
  contributionsDelta,
  createConverter,
  customerContribution,
  cohortCurves,
  cohortOf,
  monthOf,
  monthStart,
  mrrAtMonthEnd,
  parseMonth,
  retentionSeries,
  type Aggregates,
  type AnalyticsSettings,
  type CustomerHistory,
  type ExchangeRate,
} from '../../domain/mrr';
import { customerSpec, historyOf, npsOf, npsSpec } from './mrr-arbitrary';

const rates: ExchangeRate[] = [
  { currency: 'eur', on: '2024-01-01', rate: 1.08 },
  { currency: 'eur', on: '2025-01-01', rate: 1.13 },
];
const settingsArb = fc.record({
  churnTiming: fc.constantFrom('subscription_end' as const, 'service_period_end' as const, 'cancellation' as const),
  pastDueGraceDays: fc.constantFrom(null, 0, 7),
  includeMetered: fc.boolean(),
  groupingWindowMinutes: fc.constantFrom(0, 60),
});
const settingsOf = (s: Partial<AnalyticsSettings>): AnalyticsSettings => ({ ...analyticsSettingsSchema.parse({}), ...s });
const compute = (h: CustomerHistory, s: AnalyticsSettings) => computeCustomerMrr(h, s, createConverter('usd', rates));

/** MRR straight from the segments at time t, without going through movements. */
const segmentMrrAt = (h: ReturnType<typeof compute>, t: number) => h.segments.filter((s) => s.start <= t && t < s.end).reduce((a, s) => a + s.mrr, 0);

const RUNS = { numRuns: 150 };

describe('MRR properties over generated billing histories', () => {
  it('movements chain and sum to the change in MRR', () => {
    fc.assert(
      fc.property(customerSpec, settingsArb, (spec, s) => {
        const result = compute(historyOf('cus', spec), settingsOf(s));
        let mrr = 0;
        let paidBefore = false;
        for (const m of result.movements) {
          expect(m.mrrBefore).toBe(mrr);
          expect(m.amount).toBe(m.mrrAfter - m.mrrBefore);
          expect(m.amount).not.toBe(0);
          const expected = m.mrrBefore === 0 ? (paidBefore ? 'reactivation' : 'new') : m.mrrAfter === 0 ? 'churn' : m.amount > 0 ? 'expansion' : 'contraction';
          expect(m.kind).toBe(expected);
          paidBefore = true;
          mrr = m.mrrAfter;
        }
        expect(mrr).toBe(segmentMrrAt(result, Number.MAX_SAFE_INTEGER));
        // At every month start (no group straddles one: changes happen on days 1-28 at
        // hours 1-22 or at midnight), movements so far add up to the segments' MRR.
        for (let month = monthOf(Date.UTC(2024, 0, 1)); month <= monthOf(Date.UTC(2027, 0, 1)); month++) {
          const t = monthStart(month);
          const fromMovements = result.movements.filter((m) => m.at.getTime() <= t).reduce((a, m) => a + m.amount, 0);
          expect(fromMovements).toBe(segmentMrrAt(result, t));
        }
      }),
      RUNS,
    );
  });

  it('the order of the mirror rows does not matter', () => {
    fc.assert(
      fc.property(customerSpec, settingsArb, fc.integer(), (spec, s, seed) => {
        const settings = settingsOf(s);
        const history = historyOf('cus', spec);
        // A deterministic shuffle of every row list, as a database may return them.
        const shuffle = <T>(rows: readonly T[]) => rows.map((r, i) => ({ r, k: ((i + 1) * 2654435761 + seed) % 1000003 })).sort((a, b) => a.k - b.k).map((x) => x.r);
        const shuffled: CustomerHistory = {
          ...history,
          subscriptions: shuffle(history.subscriptions),
          items: shuffle(history.items),
          invoices: shuffle(history.invoices),
          lines: shuffle(history.lines),
          prices: shuffle(history.prices),
        };
        expect(compute(shuffled, settings).movements).toEqual(compute(history, settings).movements);
      }),
      RUNS,
    );
  });

  it('cohort sizes sum to the customers who ever paid, no customer is in two cohorts, and MRR and cohort curves match the customers\' month ends', () => {
    fc.assert(
      fc.property(fc.array(customerSpec, { maxLength: 6 }), settingsArb, (specs, s) => {
        const settings = settingsOf(s);
        const contributions = specs.map((spec, i) => customerContribution(compute(historyOf(`cus_${i}`, spec), settings).movements));
        const everPaid = specs.filter((spec, i) => compute(historyOf(`cus_${i}`, spec), settings).movements.length > 0).length;
        for (const c of contributions) {
          const memberships = [...c.cohorts.values()].reduce((a, r) => a + r.customers, 0);
          expect(memberships).toBeLessThanOrEqual(1);
          expect(new Set([...c.cohorts.keys()].map((k) => k.split(':')[0])).size).toBeLessThanOrEqual(1);
        }
        const total = aggregateAll(contributions);
        expect([...total.cohorts.values()].reduce((a, r) => a + r.customers, 0)).toBe(everPaid);
        // MRR, paying customers and cohort curves equal the customers' own month ends.
        const all = specs.map((spec, i) => compute(historyOf(`cus_${i}`, spec), settings).movements);
        const ledger = new Ledger(total);
        const from = monthOf(Date.UTC(2024, 0, 1));
        const to = monthOf(Date.UTC(2026, 11, 1));
        for (let m = from; m <= to; m++) {
          const ends = all.map((mv) => mrrAtMonthEnd(mv, m));
          expect(ledger.mrr(m)).toBe(ends.reduce((a, e) => a + e, 0));
          expect(ledger.customers(m)).toBe(ends.filter((e) => e > 0).length);
        }
        for (const curve of cohortCurves(total, from, to, to)) {
          const members = all.filter((mv) => cohortOf(mv) === parseMonth(curve.cohort));
          expect(curve.customers).toBe(members.length);
          for (const age of curve.ages) {
            const ends = members.map((mv) => mrrAtMonthEnd(mv, parseMonth(age.period)));
            expect(age.mrr).toBe(ends.reduce((a, e) => a + e, 0));
            expect(age.customers).toBe(ends.filter((e) => e > 0).length);
          }
        }
      }),
      RUNS,
    );
  });

  it('0 <= GRR <= 1 and GRR <= NRR in every month whose base MRR is positive, and both match each customer\'s month ends', () => {
    fc.assert(
      fc.property(fc.array(customerSpec, { maxLength: 6 }), settingsArb, (specs, s) => {
        const settings = settingsOf(s);
        const all = specs.map((spec, i) => compute(historyOf(`cus_${i}`, spec), settings).movements);
        const ledger = new Ledger(aggregateAll(all.map((m) => customerContribution(m))));
        const from = monthOf(Date.UTC(2024, 0, 1));
        const to = monthOf(Date.UTC(2027, 6, 1));
        for (const window of [1, 12] as const) {
          for (const [i, p] of retentionSeries(ledger, from, to, window).entries()) {
            // The same figures straight from each customer's MRR at the two month ends.
            const m = from + i;
            const pairs = all.map((mv) => [mrrAtMonthEnd(mv, m - window), mrrAtMonthEnd(mv, m)] as const).filter(([start]) => start > 0);
            expect(p.startMrr).toBe(pairs.reduce((a, [start]) => a + start, 0));
            expect(p.retainedMrr).toBe(pairs.reduce((a, [start, end]) => a + Math.min(start, end), 0));
            expect(p.endMrr).toBe(pairs.reduce((a, [, end]) => a + end, 0));
            if (p.startMrr <= 0) {
              expect(p.grr).toBeNull();
              continue;
            }
            expect(p.grr).not.toBeNull();
            expect(p.grr!).toBeGreaterThanOrEqual(0);
            expect(p.grr!).toBeLessThanOrEqual(1);
            expect(p.grr!).toBeLessThanOrEqual(p.nrr!);
          }
        }
      }),
      RUNS,
    );
  });

  it('incremental and full recompute agree after any sequence of customer events', () => {
    const event = fc.record({ customer: fc.integer({ min: 0, max: 4 }), spec: customerSpec, nps: npsSpec });
    fc.assert(
      fc.property(fc.array(customerSpec, { minLength: 5, maxLength: 5 }), fc.array(event, { maxLength: 8 }), settingsArb, (initial, events, s) => {
        const settings = settingsOf(s);
        const state = initial.map((spec) => ({ spec, nps: [] as { score: number; month: number }[] }));
        const contribution = (i: number) => {
          const id = `cus_${i}`;
          return customerContribution(compute(historyOf(id, state[i]!.spec), settings).movements, npsOf(id, state[i]!.nps));
        };
        const incremental: Aggregates = aggregateAll(state.map((_, i) => contribution(i)));
        for (const e of events) {
          const before = contribution(e.customer);
          state[e.customer] = { spec: e.spec, nps: e.nps };
          applyContribution(incremental, contributionDelta(before, contribution(e.customer)), 1);
        }
        const full = aggregateAll(state.map((_, i) => contribution(i)));
        expect(incremental).toEqual(full);
      }),
      { numRuns: 100 },
    );
  });

  it('one summed delta for a batch of changed customers moves the aggregates as their deltas one by one do', () => {
    const change = fc.record({ customer: fc.integer({ min: 0, max: 5 }), spec: customerSpec, nps: npsSpec });
    fc.assert(
      fc.property(fc.array(customerSpec, { minLength: 6, maxLength: 6 }), fc.array(change, { maxLength: 6 }), (initial, changes) => {
        const settings = settingsOf({});
        const contribution = (i: number, spec: (typeof initial)[number], nps: { score: number; month: number }[]) =>
          customerContribution(compute(historyOf(`cus_${i}`, spec), settings).movements, npsOf(`cus_${i}`, nps));
        const state = initial.map((spec, i) => ({ spec, nps: [] as { score: number; month: number }[], contribution: contribution(i, spec, []) }));
        const start = () => aggregateAll(state.map((c) => c.contribution));
        const oneByOne = start();
        const batched = start();
        // A batch recomputes each customer once from its latest state: the later change of a customer wins.
        const last = new Map(changes.map((c) => [c.customer, c] as const));
        const pairs = [...last.values()].map((c) => ({ before: state[c.customer]!.contribution, after: contribution(c.customer, c.spec, c.nps) }));
        for (const { before, after } of pairs) applyContribution(oneByOne, contributionDelta(before, after), 1);
        applyContribution(batched, contributionsDelta(pairs), 1);
        expect(batched).toEqual(oneByOne);
        for (const c of last.values()) state[c.customer] = { spec: c.spec, nps: c.nps, contribution: contribution(c.customer, c.spec, c.nps) };
        expect(batched).toEqual(start());
        expect(contributionsDelta([])).toEqual(aggregateAll([]));
      }),
      { numRuns: 100 },
    );
  });
});
