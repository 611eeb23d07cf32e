import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DUNNING_SCHEDULE,
  DUNNING_SPACING_MS,
  DUNNING_TONES,
  isOvertaken,
  ON_TIME_MS,
  planDunningSteps,
  stepTiming,
  type DunningScheduleSettings,
  type LastDunningEmail,
  type PlannedStep,
} from '../../domain/dunning-schedule';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const t0 = new Date('2026-03-10T09:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const day = (ms: number) => (ms - t0.getTime()) / DAY;

/**
 * A sequence as the dunning workflow runs it, with sends held up while the sender
 * refuses (`stall`, from and until, epoch ms): each step reached is skipped when
 * overtaken, else its email goes at its time, or once the sender works again, unless
 * the next step fell due meanwhile (the send's own check).
 */
function run(steps: PlannedStep[], stall: { from: number; until: number }): { sent: { index: number; at: number }[]; overtaken: number[] } {
  const sent: { index: number; at: number }[] = [];
  const overtaken: number[] = [];
  let last: LastDunningEmail | null = null;
  let now = Date.parse(steps[0]!.at);
  for (const [position, step] of steps.entries()) {
    const next = steps[position + 1];
    const timing = stepTiming(step, next, last, now);
    if (timing.overtaken) {
      overtaken.push(step.index);
      continue;
    }
    now = Math.max(timing.at, now);
    if (now >= stall.from && now < stall.until) now = stall.until;
    if (isOvertaken(next, now)) {
      overtaken.push(step.index);
      continue;
    }
    sent.push({ index: step.index, at: now });
    last = { plannedAt: step.at, sentAt: iso(now) };
  }
  return { sent, overtaken };
}

const defaultSteps = () => planDunningSteps(t0, DEFAULT_DUNNING_SCHEDULE, []);

describe('dunning after a stall', () => {
  it('sends only the latest step due when the sender works again, and the next a day after it', () => {
    // Held from day 3 (email 2) until day 15.5: emails 2 and 3 (days 3 and 7) were overtaken by email 4 (day 14).
    const { sent, overtaken } = run(defaultSteps(), { from: t0.getTime() + 3 * DAY, until: t0.getTime() + 15.5 * DAY });
    expect(sent.map((s) => [s.index, day(s.at)])).toEqual([
      [0, 0],
      [3, 15.5],
      [4, 16.5],
    ]);
    expect(overtaken).toEqual([1, 2]);
  });

  it('sends a held step before the next is due, and spaces the next from it', () => {
    // The first email held until day 2.5: it goes then, and email 2 (day 3) a day after it.
    const { sent, overtaken } = run(defaultSteps(), { from: t0.getTime(), until: t0.getTime() + 2.5 * DAY });
    expect(sent.map((s) => [s.index, day(s.at)])).toEqual([
      [0, 2.5],
      [1, 3.5],
      [2, 7],
      [3, 14],
      [4, 16],
    ]);
    expect(overtaken).toEqual([]);
  });

  it('skips a step the spacing would push to the next one, never the last', () => {
    // A retry at day 2 + 20 h (24 quiet hours before it) moves email 2 to 2 hours before email 3 (day 3).
    const settings: DunningScheduleSettings = { quietHoursBeforeRetry: 24, hoursAfterRetry: 2, steps: [{ day: 0, tone: 'friendly' }, { day: 2, tone: 'firm' }, { day: 3, tone: 'urgent' }, { day: 5, tone: 'final' }] };
    const steps = planDunningSteps(t0, settings, [new Date(t0.getTime() + 2 * DAY + 20 * HOUR)]);
    expect(steps.map((s) => day(Date.parse(s.at)) * 24)).toEqual([0, 70, 72, 120]);
    // Email 1 held until day 2: email 2 may go no sooner than a day after it, when email 3 is due: overtaken.
    const late: LastDunningEmail = { plannedAt: steps[0]!.at, sentAt: iso(t0.getTime() + 2 * DAY) };
    expect(stepTiming(steps[1]!, steps[2], late, t0.getTime() + 2 * DAY)).toEqual({ at: t0.getTime() + 3 * DAY, overtaken: true });
    expect(stepTiming(steps[2]!, steps[3], late, t0.getTime() + 2 * DAY)).toEqual({ at: t0.getTime() + 3 * DAY, overtaken: false });
    expect(run(steps, { from: t0.getTime(), until: t0.getTime() + 2 * DAY })).toEqual({
      sent: [
        { index: 0, at: t0.getTime() + 2 * DAY },
        { index: 2, at: t0.getTime() + 3 * DAY },
        { index: 3, at: t0.getTime() + 5 * DAY },
      ],
      overtaken: [1],
    });
    // The last step waits for the spacing but is never overtaken, however late.
    expect(stepTiming(steps[3]!, undefined, { plannedAt: steps[2]!.at, sentAt: iso(t0.getTime() + 9 * DAY) }, t0.getTime() + 9 * DAY)).toEqual({ at: t0.getTime() + 10 * DAY, overtaken: false });
  });

  it('spaces a step from a late email by the schedule’s own gap when a Stripe retry put them less than a day apart', () => {
    // A retry at day 3 + 10 h moves email 2 to 2 hours after it: 12 hours before email 3 at day 4.
    const settings: DunningScheduleSettings = { ...DEFAULT_DUNNING_SCHEDULE, steps: [{ day: 0, tone: 'friendly' }, { day: 3, tone: 'firm' }, { day: 4, tone: 'final' }] };
    const steps = planDunningSteps(t0, settings, [new Date(t0.getTime() + 3 * DAY + 10 * HOUR)]);
    expect(day(Date.parse(steps[1]!.at))).toBe(3.5);
    const sentLate = t0.getTime() + 3.5 * DAY + HOUR;
    expect(stepTiming(steps[2]!, undefined, { plannedAt: steps[1]!.at, sentAt: iso(sentLate) }, sentLate)).toEqual({ at: sentLate + 12 * HOUR, overtaken: false });
  });

  it('counts an email sent within minutes of its time as on time, and spaces from one sent later', () => {
    // Emails a day apart: the first sent 10 minutes late leaves the second at its time; 20 minutes late, it waits a day after it.
    const steps = planDunningSteps(t0, { ...DEFAULT_DUNNING_SCHEDULE, steps: [{ day: 0, tone: 'friendly' }, { day: 1, tone: 'final' }] }, []);
    const sentAfter = (minutes: number): LastDunningEmail => ({ plannedAt: steps[0]!.at, sentAt: iso(t0.getTime() + minutes * 60_000) });
    expect(stepTiming(steps[1]!, undefined, sentAfter(10), t0.getTime()).at).toBe(t0.getTime() + DAY);
    expect(stepTiming(steps[1]!, undefined, sentAfter(20), t0.getTime()).at).toBe(t0.getTime() + DAY + 20 * 60_000);
  });

  it('keeps the schedule of a sequence sent on time, and overtakes only a step due with the next (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: -2 * 24, max: 30 * 24 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 72 }),
        (days, retryHours, quiet) => {
          const settings: DunningScheduleSettings = { quietHoursBeforeRetry: quiet, hoursAfterRetry: 2, steps: days.map((d, i) => ({ day: d, tone: DUNNING_TONES[i % DUNNING_TONES.length]! })) };
          const steps = planDunningSteps(t0, settings, retryHours.map((h) => new Date(t0.getTime() + h * HOUR)));
          const { sent, overtaken } = run(steps, { from: 0, until: 0 });
          // Retries can move two steps to one time: the earlier of them would go with the next, so only the later goes.
          const sameTimeAsNext = steps.filter((s, i) => steps[i + 1]?.at === s.at).map((s) => s.index);
          expect(overtaken).toEqual(sameTimeAsNext);
          expect(sent).toEqual(steps.filter((s) => !sameTimeAsNext.includes(s.index)).map((s) => ({ index: s.index, at: Date.parse(s.at) })));
        },
      ),
    );
  });

  it('after any stall sends the last step, in order, never before its time, never with the next due, and spaced (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: -2 * 24, max: 30 * 24 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 40 * 24 }),
        fc.integer({ min: 0, max: 40 * 24 }),
        (days, retryHours, fromHours, stallHours) => {
          const settings: DunningScheduleSettings = { ...DEFAULT_DUNNING_SCHEDULE, steps: days.map((d, i) => ({ day: d, tone: DUNNING_TONES[i % DUNNING_TONES.length]! })) };
          const steps = planDunningSteps(t0, settings, retryHours.map((h) => new Date(t0.getTime() + h * HOUR)));
          const { sent } = run(steps, { from: t0.getTime() + fromHours * HOUR, until: t0.getTime() + (fromHours + stallHours) * HOUR });
          const plannedAt = (index: number) => Date.parse(steps.find((s) => s.index === index)!.at);
          expect(sent.at(-1)?.index).toBe(steps.at(-1)!.index);
          for (const [i, s] of sent.entries()) {
            expect(s.at).toBeGreaterThanOrEqual(plannedAt(s.index));
            const next = steps.find((st) => st.index === s.index + 1);
            if (next) expect(Date.parse(next.at)).toBeGreaterThan(s.at);
            const prev = sent[i - 1];
            if (prev) {
              expect(s.index).toBeGreaterThan(prev.index);
              // An email that went out on time (a few minutes late at most) leaves the next at its own time.
              expect(s.at - prev.at).toBeGreaterThanOrEqual(Math.min(DUNNING_SPACING_MS, plannedAt(s.index) - plannedAt(prev.index)) - ON_TIME_MS);
            }
          }
        },
      ),
    );
  });
});
