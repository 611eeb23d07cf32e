/**
 * When the emails of a dunning sequence go out. Steps are offsets in days from the
 * failed payment (a workspace setting); each one is moved out of the window just
 * before one of Stripe's own retries, so nobody is told "your payment failed"
 * minutes before a retry that may well succeed: the email waits until the retry's
 * outcome is known instead.
 */
import { DAY_MS, HOUR_MS } from './durations';

export const DUNNING_TONES = ['friendly', 'helpful', 'firm', 'urgent', 'final'] as const;
export type DunningTone = (typeof DUNNING_TONES)[number];

export interface DunningStepSetting {
  /** Days after the failed payment. */
  day: number;
  tone: DunningTone;
}

export interface DunningScheduleSettings {
  steps: DunningStepSetting[];
  /** No email within this many hours before a Stripe retry... */
  quietHoursBeforeRetry: number;
  /** ...it goes this many hours after the retry instead, once its outcome is known. */
  hoursAfterRetry: number;
}

export const DEFAULT_DUNNING_SCHEDULE: DunningScheduleSettings = {
  steps: [
    { day: 0, tone: 'friendly' },
    { day: 3, tone: 'helpful' },
    { day: 7, tone: 'firm' },
    { day: 14, tone: 'urgent' },
    { day: 16, tone: 'final' },
  ],
  quietHoursBeforeRetry: 12,
  hoursAfterRetry: 2,
};

export interface PlannedStep {
  /** Position in the sequence, from 0; also the draft's step name `step-<n>`. */
  index: number;
  tone: DunningTone;
  /** ISO-8601 UTC. */
  at: string;
  /** Why the time differs from the configured day, if it does. */
  movedForRetry: boolean;
}

/**
 * The planned steps. `retries` are Stripe's known retry times (from the invoice's
 * next_payment_attempt); a step inside the quiet window before a retry moves to just
 * after it. Steps stay in order and never fall before the failure itself.
 *
 * With `now`, a dunning that begins late (its failure delivered days after it happened,
 * or an owner re-applying an event set aside) starts at the step it would be at now:
 * of the steps already due only the latest is kept, so the customer does not get every
 * missed email in a row. Each step keeps its index.
 */
export function planDunningSteps(failedAt: Date, settings: DunningScheduleSettings, retries: Date[], now?: Date): PlannedStep[] {
  const planned = planAllSteps(failedAt, settings, retries);
  if (!now) return planned;
  const due = planned.filter((p) => Date.parse(p.at) <= now.getTime()).length;
  return due > 1 ? planned.slice(due - 1) : planned;
}

/**
 * The least time between two emails of one sequence once one went out late (its send
 * held up by the email provider or by Stripe, approved late by a reviewer, or a
 * dunning begun late): the next waits until a day after it, or until as long after it
 * as the schedule put their two steps apart when that is less (a Stripe retry moved
 * them closer).
 */
export const DUNNING_SPACING_MS = DAY_MS;
/**
 * An email that went out within this long of its planned time went out on time (the
 * moments a send takes, a provider's brief 5xx retried): the spacing counts from its
 * planned time, so a sequence sent on time keeps its schedule exactly.
 */
export const ON_TIME_MS = 15 * 60_000;

/** The email a sequence sent last: its step's planned time and when it went out, both ISO-8601 UTC. */
export interface LastDunningEmail {
  plannedAt: string;
  sentAt: string;
}

/**
 * Where a step stands when the sequence reaches it at `now` (epoch ms), with `next`
 * the step after it (none for the last). `at`: when it may go out, its planned time
 * or later by DUNNING_SPACING_MS's rule. `overtaken`: by the time it may go, the next
 * step is due, so sending it would put two emails in a row: it is skipped and the
 * next one goes instead. As with a dunning begun late (planDunningSteps), of the steps
 * a stall let fall due only the latest goes, and the last step is never overtaken.
 */
export function stepTiming(step: Pick<PlannedStep, 'at'>, next: Pick<PlannedStep, 'at'> | undefined, last: LastDunningEmail | null, now: number): { at: number; overtaken: boolean } {
  const planned = Date.parse(step.at);
  let at = planned;
  if (last) {
    const [lastPlanned, lastSent] = [Date.parse(last.plannedAt), Date.parse(last.sentAt)];
    const from = lastSent - lastPlanned <= ON_TIME_MS ? lastPlanned : lastSent;
    at = Math.max(planned, from + Math.min(DUNNING_SPACING_MS, Math.max(0, planned - lastPlanned)));
  }
  return { at, overtaken: isOvertaken(next, Math.max(at, now)) };
}

/**
 * Whether a step whose email would go out at `at` (epoch ms) is overtaken: the next
 * step (none for the last) is due by then. Checked again right before the provider is
 * called (activities/sending.ts), so a send held up past the next step's time is
 * cancelled rather than sent, whichever attempt gets through.
 */
export function isOvertaken(next: Pick<PlannedStep, 'at'> | undefined, at: number): boolean {
  return next !== undefined && Date.parse(next.at) <= at;
}

function planAllSteps(failedAt: Date, settings: DunningScheduleSettings, retries: Date[]): PlannedStep[] {
  const quiet = settings.quietHoursBeforeRetry * HOUR_MS;
  const after = settings.hoursAfterRetry * HOUR_MS;
  const sorted = inDayOrder(settings).steps;
  const planned: PlannedStep[] = [];
  let previous = failedAt.getTime();
  for (const [index, step] of sorted.entries()) {
    let at = Math.max(failedAt.getTime() + step.day * DAY_MS, previous);
    let moved = false;
    for (const retry of retries.map((r) => r.getTime()).sort((a, b) => a - b)) {
      if (at >= retry - quiet && at < retry + after) {
        at = retry + after;
        moved = true;
      }
    }
    planned.push({ index, tone: step.tone, at: new Date(at).toISOString(), movedForRetry: moved });
    previous = at;
  }
  return planned;
}

/** The schedule with its emails in day order: the order they go out and are numbered in (step-<n>, "Email n+1"). */
export function inDayOrder<S extends DunningScheduleSettings>(settings: S): S {
  return { ...settings, steps: [...settings.steps].sort((a, b) => a.day - b.day) };
}

/** The step name stored on drafts, shared by the workflow and the API. */
export const dunningStepName = (index: number) => `step-${index}`;

/** The position a stored step name stands for (dunningStepName's inverse); null for any other name. */
export function dunningStepIndex(name: string): number | null {
  const match = /^step-(0|[1-9]\d{0,3})$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** A step as people count it: the first email is "Email 1" (positions count from 0). */
export const dunningStepTitle = (index: number) => `Email ${index + 1}`;

/** A draft's play and step as the UI shows them: "Dunning · email 2" for dunning's `step-1`. */
export function draftStepTitle(play: string, step: string): string {
  const index = play === 'dunning' ? dunningStepIndex(step) : null;
  if (index === null) return `${play} · ${step}`;
  return `Dunning · ${dunningStepTitle(index).toLowerCase()}`;
}

/** Problems with a schedule setting, empty when it is usable. */
export function scheduleProblems(settings: DunningScheduleSettings): string[] {
  const problems: string[] = [];
  if (settings.steps.length === 0) problems.push('steps: at least one step is needed');
  if (settings.steps.length > 10) problems.push('steps: at most 10 steps');
  const days = settings.steps.map((s) => s.day);
  if (new Set(days).size !== days.length) problems.push('steps: two steps on the same day');
  if (days.some((d) => d < 0 || d > 60)) problems.push('steps: days must be between 0 and 60');
  return problems;
}
