import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dunningSchedule } from '../../activities/dunning';
import { DEFAULT_DUNNING_SCHEDULE, DUNNING_TONES, draftStepTitle, dunningStepIndex, dunningStepName, planDunningSteps, scheduleProblems, type DunningScheduleSettings } from '../../domain/dunning-schedule';
import { recoveryReport, median } from '../../domain/dunning-recovery';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import { canTransition } from '../../domain/drafts';
import { monthlyValue, tenureMonths } from '../../domain/plan-value';
import { customerBucket, modeForCustomer } from '../../domain/rollout';
import { formatMoney, renderTemplate, templateProblems } from '../../domain/templates';
import { minorUnitsPer } from '../../domain/currency-units';
import { roundOffer } from '../../domain/churn-save';
import { money } from '../../web/src/format';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const t0 = new Date('2026-03-10T09:00:00Z');

describe('dunning schedule', () => {
  it('places the default steps on days 0, 3, 7, 14 and 16 with escalating tone', () => {
    const steps = planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, []);
    expect(steps.map((s) => (Date.parse(s.at) - t0.getTime()) / DAY)).toEqual([0, 3, 7, 14, 16]);
    expect(steps.map((s) => s.tone)).toEqual(['friendly', 'helpful', 'firm', 'urgent', 'final']);
  });

  it('starts a dunning begun late at the step it would be at now, not with every missed one', () => {
    // Twenty days after the failure: of days 0, 3, 7, 14 and 16, the day-16 step is the latest due.
    const late = planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, [], new Date(t0.getTime() + 20 * DAY));
    expect(late.map((s) => [s.index, s.tone])).toEqual([[4, 'final']]);
    // Eight days after: the day-7 step now, the rest as planned.
    const eight = planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, [], new Date(t0.getTime() + 8 * DAY));
    expect(eight.map((s) => (Date.parse(s.at) - t0.getTime()) / DAY)).toEqual([7, 14, 16]);
    // Begun at once: nothing is dropped.
    expect(planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, [], new Date(t0.getTime() + 5_000))).toEqual(planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, []));
  });

  it('moves a step that falls just before a Stripe retry to after it', () => {
    const retry = new Date(t0.getTime() + 3 * DAY + 2 * HOUR);
    const steps = planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, [retry]);
    expect(steps[1]).toMatchObject({ movedForRetry: true, at: new Date(retry.getTime() + 2 * HOUR).toISOString() });
    expect(steps[0]!.movedForRetry).toBe(false);
  });

  it('never sends inside the quiet window before a retry, keeps order and never starts before the failure (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: -2 * 24, max: 30 * 24 }), { maxLength: 4 }),
        (days, retryHours) => {
          const settings: DunningScheduleSettings = { ...DEFAULT_DUNNING_SCHEDULE, steps: days.map((day, i) => ({ day, tone: DUNNING_TONES[i % DUNNING_TONES.length]! })) };
          const retries = retryHours.map((h) => new Date(t0.getTime() + h * HOUR));
          const steps = planDunningSteps(t0, settings, retries);
          const times = steps.map((s) => Date.parse(s.at));
          for (const [i, at] of times.entries()) {
            expect(at).toBeGreaterThanOrEqual(t0.getTime());
            if (i > 0) expect(at).toBeGreaterThanOrEqual(times[i - 1]!);
          }
          // No step sits in the quiet window before any retry (a step moved past one retry into the
          // window of the next is moved again: retries are applied in time order).
          for (const at of times) {
            for (const r of retries.map((d) => d.getTime())) {
              expect(at >= r - 12 * HOUR && at < r + 2 * HOUR).toBe(false);
            }
          }
        },
      ),
    );
  });

  it('rejects unusable schedules and falls back to the default for a stored one that no longer validates', () => {
    expect(scheduleProblems({ ...DEFAULT_DUNNING_SCHEDULE, steps: [] })).toEqual(['steps: at least one step is needed']);
    expect(scheduleProblems({ ...DEFAULT_DUNNING_SCHEDULE, steps: [{ day: 2, tone: 'friendly' }, { day: 2, tone: 'final' }] })).toEqual(['steps: two steps on the same day']);
    expect(dunningSchedule({ steps: 'every day' })).toEqual(DEFAULT_DUNNING_SCHEDULE);
    expect(dunningSchedule({ steps: [{ day: 1, tone: 'firm' }] }).steps).toEqual([{ day: 1, tone: 'firm' }]);
    // One stored out of order (before the API sorted them) is read in day order, as its emails go out.
    expect(dunningSchedule({ steps: [{ day: 5, tone: 'final' }, { day: 0, tone: 'friendly' }] }).steps).toEqual([{ day: 0, tone: 'friendly' }, { day: 5, tone: 'final' }]);
  });
});

describe('step names', () => {
  it('reads back every stored step name as its position, and names it as people count', () => {
    for (const index of [0, 1, 9, 10, 9999]) expect(dunningStepIndex(dunningStepName(index))).toBe(index);
    for (const name of ['step-', 'step-01', 'step--1', 'step-1.5', 'step-10000', 'Step-1', 'step-1 ', 'renewal-1']) expect(dunningStepIndex(name)).toBeNull();
    expect(draftStepTitle('dunning', 'step-0')).toBe('Dunning · email 1');
    expect(draftStepTitle('dunning', 'step-4')).toBe('Dunning · email 5');
    // Another play's steps, or a name dunning never wrote, are shown as stored.
    expect(draftStepTitle('renewal', 'step-0')).toBe('renewal · step-0');
    expect(draftStepTitle('dunning', 'manual')).toBe('dunning · manual');
  });
});

describe('rollout modes', () => {
  it('puts the same customer in the same bucket every time, and splits customers by the percentage', () => {
    expect(customerBucket('ws_1', 'cus_1')).toBe(customerBucket('ws_1', 'cus_1'));
    const auto = Array.from({ length: 2000 }, (_, i) => modeForCustomer({ mode: 'auto', autoPercentage: 30 }, 'ws_1', `cus_${i}`)).filter((m) => m === 'auto').length;
    expect(auto / 2000).toBeGreaterThan(0.25);
    expect(auto / 2000).toBeLessThan(0.35);
    expect(modeForCustomer({ mode: 'auto', autoPercentage: 0 }, 'ws_1', 'cus_1')).toBe('review');
    expect(modeForCustomer({ mode: 'auto', autoPercentage: 100 }, 'ws_1', 'cus_1')).toBe('auto');
    expect(modeForCustomer({ mode: 'off', autoPercentage: null }, 'ws_1', 'cus_1')).toBe('off');
  });
});

describe('templates', () => {
  it('renders every built-in tone with the example facts, citing amount, plan, tenure, usage and the payment link', () => {
    for (const tone of DUNNING_TONES) {
      const email = renderTemplate(DEFAULT_DUNNING_TEMPLATES[tone], EXAMPLE_DUNNING_FACTS);
      expect(email.subject).toMatch(/Acme Analytics|\$99\.00/);
      for (const fact of ['$99.00', 'Growth', '20 months', '1,240 reports', 'https://invoice.stripe.com/i/example']) expect(email.text).toContain(fact);
      expect(email.html).toContain('href="https://invoice.stripe.com/i/example"');
    }
  });

  it('says nothing of tenure in a first month, rather than "1 months"', () => {
    const facts = { ...EXAMPLE_DUNNING_FACTS, customer: { ...EXAMPLE_DUNNING_FACTS.customer, tenureMonths: 1 } };
    const email = renderTemplate(DEFAULT_DUNNING_TEMPLATES.friendly, facts);
    expect(email.text).not.toContain('With us for');
    expect(email.html).not.toContain('With us for');
  });

  it('escapes customer data in HTML but not in the text part', () => {
    const facts = { ...EXAMPLE_DUNNING_FACTS, customer: { ...EXAMPLE_DUNNING_FACTS.customer, name: '<script>x</script>' } };
    const email = renderTemplate(DEFAULT_DUNNING_TEMPLATES.friendly, facts);
    expect(email.html).toContain('&lt;script&gt;');
    expect(email.text).toContain('<script>x</script>');
  });

  it('reports each problem with its part, line and column', () => {
    expect(templateProblems({ subject: 'ok', html: 'line one\n{{ customer.nam }}', text: '{% for %}' }, EXAMPLE_DUNNING_FACTS)).toEqual([
      { part: 'html', line: 2, column: 4, message: 'undefined variable: customer.nam' },
      expect.objectContaining({ part: 'text', line: 1, column: 1 }),
    ]);
    expect(templateProblems({ subject: '{{ x | shout }}', html: 'x', text: 'x' }, { x: 1 })[0]).toMatchObject({ part: 'subject', message: expect.stringMatching(/undefined filter: shout/) as unknown });
  });

  it('cannot read files through include', () => {
    expect(templateProblems({ subject: 's', html: "{% include '/etc/passwd' %}", text: 't' }, {})[0]).toMatchObject({ part: 'html' });
  });

  it('formats money in minor units per currency', () => {
    expect(formatMoney(12_345, 'usd')).toBe('$123.45');
    expect(formatMoney(500, 'jpy')).toBe('¥500');
    expect(formatMoney(1_000, 'eur')).toBe('€10.00');
  });

  it("counts minor units as Stripe's amounts do, not as Intl writes the currency", () => {
    // Stripe keeps ISK and HUF at two decimals in amounts; Intl writes them whole.
    expect(formatMoney(1_250_000, 'isk')).toBe('ISK\u00a012,500');
    expect(formatMoney(990_000, 'HUF')).toBe('HUF\u00a09,900');
    expect(formatMoney(50_000, 'ugx')).toBe('UGX\u00a050,000');
    expect(formatMoney(12_345, 'kwd')).toBe('KWD\u00a012.345');
    expect(formatMoney(29_900, 'twd')).toBe('NT$299.00');
    expect([minorUnitsPer('isk'), minorUnitsPer('xof'), minorUnitsPer('tnd'), minorUnitsPer(' GBP ')]).toEqual([100, 1, 1000, 100]);
    // A save's credit in forints: a fifth of 9,900 Ft, rounded as a person would offer it.
    expect(roundOffer(198_000, 'huf')).toBe(200_000);
    expect(money(990_000, 'huf')).toBe('HUF\u00a09,900');
  });
});

describe('plan value and tenure', () => {
  it('normalises recurring items to a month and refuses mixed currencies', () => {
    expect(monthlyValue([{ amount: 120_000, currency: 'usd', interval: 'year', intervalCount: 1 }, { amount: 3_000, currency: 'usd', interval: 'month', intervalCount: 1 }, { amount: null, currency: 'usd', interval: 'month', intervalCount: 1 }])).toEqual({ amount: 13_000, currency: 'usd' });
    expect(monthlyValue([{ amount: 1, currency: 'usd', interval: 'month', intervalCount: 1 }, { amount: 1, currency: 'eur', interval: 'month', intervalCount: 1 }])).toBeNull();
    expect(tenureMonths(new Date('2025-01-31T00:00:00Z'), new Date('2026-03-10T00:00:00Z'))).toBe(13);
  });
});

describe('draft lifecycle and recovery maths', () => {
  it('allows only the lifecycle transitions', () => {
    expect(canTransition('drafted', 'approved')).toBe(true);
    expect(canTransition('scheduled', 'drafted')).toBe(true);
    expect(canTransition('sent', 'cancelled')).toBe(false);
    expect(canTransition('discarded', 'approved')).toBe(false);
  });

  it('keeps currencies apart and takes the median time to recover', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([])).toBeNull();
    const failedAt = new Date('2026-01-01T00:00:00Z');
    const report = recoveryReport([
      { currency: 'usd', amountDue: 100, failedAt, outcome: 'recovered', lastStepSent: 0, stepsSent: [0], endedAt: new Date('2026-01-02T00:00:00Z') },
      { currency: 'eur', amountDue: 300, failedAt, outcome: 'discarded', lastStepSent: null, stepsSent: [], endedAt: new Date('2026-01-02T00:00:00Z') },
    ]);
    expect(report.map((r) => [r.currency, r.failedAmount, r.recoveryRate, r.medianHoursToRecover])).toEqual([
      ['eur', 300, 0, null],
      ['usd', 100, 1, 24],
    ]);
  });

  it('counts a step as reached only when its email went out, so a late dunning skips the steps it never sent', () => {
    const failedAt = new Date('2026-01-01T00:00:00Z');
    const endedAt = new Date('2026-01-20T00:00:00Z');
    const report = recoveryReport([
      // Begun on time: steps 0, 1 and 2 sent, recovered after step 2.
      { currency: 'usd', amountDue: 100, failedAt, outcome: 'recovered', lastStepSent: 2, stepsSent: [0, 1, 2], endedAt },
      // Begun twenty days late: only the final step (4) went out, then it recovered.
      { currency: 'usd', amountDue: 200, failedAt, outcome: 'recovered', lastStepSent: 4, stepsSent: [4], endedAt },
      // Closed before the steps were recorded: every step up to the last one counts.
      { currency: 'usd', amountDue: 400, failedAt, outcome: 'exhausted', lastStepSent: 1, stepsSent: null, endedAt },
    ]);
    expect(report[0]!.perStep.map((s) => [s.step, s.reached, s.recovered])).toEqual([
      [null, 3, 0],
      [0, 2, 0],
      [1, 2, 0],
      [2, 1, 1],
      [3, 0, 0],
      [4, 1, 1],
    ]);
    expect(report[0]!.perStep.find((s) => s.step === 3)!.rate).toBeNull();
  });
});
