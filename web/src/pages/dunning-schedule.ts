import { h, mount } from '../dom';
import { DUNNING_TONES, dunningStepTitle, inDayOrder, scheduleProblems, type DunningScheduleSettings, type DunningTone } from '../../../domain/dunning-schedule';

/** At most this many emails in a sequence (scheduleProblems refuses more). */
const MAX_STEPS = 10;
const MAX_DAY = 60;
const MAX_HOURS = 72;

/** A schedule being edited: its value as typed, and the problems that keep it from being saved (none when it can be). */
export interface ScheduleEditor {
  element: HTMLElement;
  /** The schedule as typed, its emails in day order (the order they go out, and their numbering). */
  value(): DunningScheduleSettings;
  problems(): string[];
}

const isTone = (v: string): v is DunningTone => (DUNNING_TONES as readonly string[]).includes(v);

/** A number within [min, max] typed in `input`, whole or (with `fractions`) with up to two decimals; null for anything else (blank, 61). */
function numberIn(input: HTMLInputElement, min: number, max: number, fractions = false): number | null {
  const text = input.value.trim();
  if (!(fractions ? /^\d+(\.\d{1,2})?$/ : /^\d+$/).test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/**
 * Dunning's schedule as an owner edits it: each email's day after the failed payment
 * and tone, emails added and removed, and the quiet window around Stripe's retries.
 * The same checks as the API's (scheduleProblems) run as it is typed, so a schedule
 * the API would refuse is named before it is sent.
 */
export function scheduleEditor(initial: DunningScheduleSettings, onChange: () => void): ScheduleEditor {
  type Row = { day: HTMLInputElement; tone: HTMLSelectElement };
  let rows: Row[] = [];
  const body = h('tbody', {});
  const add = h('button', { type: 'button', class: 'add-step' }, 'Add an email');
  // Hours may be fractions (the API takes 1.5), days may not.
  const quiet = h('input', { type: 'number', name: 'quietHoursBeforeRetry', min: 0, max: MAX_HOURS, step: 'any', value: initial.quietHoursBeforeRetry, oninput: onChange });
  const after = h('input', { type: 'number', name: 'hoursAfterRetry', min: 0, max: MAX_HOURS, step: 'any', value: initial.hoursAfterRetry, oninput: onChange });

  const row = (day: number, tone: DunningTone): Row => ({
    day: h('input', { type: 'number', name: 'day', min: 0, max: MAX_DAY, step: 1, value: day, oninput: onChange }),
    tone: h('select', { name: 'tone', onchange: onChange }, DUNNING_TONES.map((t) => h('option', { value: t, selected: t === tone }, t))),
  });
  const draw = () => {
    mount(
      body,
      rows.map((r, i) =>
        h(
          'tr',
          { 'data-step': i },
          h('td', {}, dunningStepTitle(i)),
          h('td', { class: 'num' }, labelled(r.day, `${dunningStepTitle(i)}: day after the failed payment`)),
          h('td', {}, labelled(r.tone, `${dunningStepTitle(i)}: tone`)),
          h(
            'td',
            {},
            h('button', {
              type: 'button',
              class: 'remove-step danger-outline',
              disabled: rows.length === 1,
              title: rows.length === 1 ? 'A schedule keeps at least one email' : undefined,
              onclick: () => {
                const at = rows.indexOf(r);
                rows = rows.filter((other) => other !== r);
                draw();
                onChange();
                // The focus stays in the list: on the next row's Remove (the previous one's for the last), or on Add.
                const next = body.querySelectorAll<HTMLButtonElement>('button.remove-step')[Math.min(at, rows.length - 1)];
                (next && !next.disabled ? next : add).focus();
              },
            }, 'Remove'),
          ),
        ),
      ),
    );
    add.disabled = rows.length >= MAX_STEPS;
    add.title = rows.length >= MAX_STEPS ? `At most ${MAX_STEPS} emails` : '';
  };
  add.addEventListener('click', () => {
    const last = rows[rows.length - 1];
    const lastDay = last ? (numberIn(last.day, 0, MAX_DAY) ?? 0) : -1;
    rows.push(row(Math.min(MAX_DAY, lastDay + 3), 'final'));
    draw();
    onChange();
    rows[rows.length - 1]!.day.focus();
  });
  rows = initial.steps.map((s) => row(s.day, s.tone));
  draw();

  const typed = () => ({
    steps: rows.map((r) => ({ day: numberIn(r.day, 0, MAX_DAY), tone: r.tone.value })),
    quietHoursBeforeRetry: numberIn(quiet, 0, MAX_HOURS, true),
    hoursAfterRetry: numberIn(after, 0, MAX_HOURS, true),
  });
  const problems = (): string[] => {
    const t = typed();
    const found: string[] = [];
    t.steps.forEach((s, i) => {
      if (s.day === null) found.push(`${dunningStepTitle(i)}: the day must be a whole number from 0 to ${MAX_DAY}`);
      if (!isTone(s.tone)) found.push(`${dunningStepTitle(i)}: pick a tone`);
    });
    // Emails on one day, named as the list shows them (scheduleProblems would say "steps").
    const byDay = new Map<number, number[]>();
    t.steps.forEach((s, i) => s.day !== null && byDay.set(s.day, [...(byDay.get(s.day) ?? []), i]));
    for (const [day, at] of byDay) if (at.length > 1) found.push(`${at.map((i) => dunningStepTitle(i)).join(' and ')} are both on day ${day}: one email a day`);
    if (t.quietHoursBeforeRetry === null) found.push(`Hours before a retry: a number from 0 to ${MAX_HOURS}, with at most two decimals`);
    if (t.hoursAfterRetry === null) found.push(`Hours after a retry: a number from 0 to ${MAX_HOURS}, with at most two decimals`);
    if (found.length) return found;
    return scheduleProblems(value());
  };
  const value = (): DunningScheduleSettings => {
    const t = typed();
    return inDayOrder({
      steps: t.steps.map((s) => ({ day: s.day ?? 0, tone: isTone(s.tone) ? s.tone : 'friendly' })),
      quietHoursBeforeRetry: t.quietHoursBeforeRetry ?? 0,
      hoursAfterRetry: t.hoursAfterRetry ?? 0,
    });
  };

  const element = h(
    'div',
    { class: 'schedule-editor' },
    h(
      'table',
      { class: 'data compact narrow' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Email'), h('th', { class: 'num' }, 'Day after the failed payment'), h('th', {}, 'Tone'), h('th', {}))),
      body,
    ),
    h('div', { class: 'actions' }, add),
    h(
      'div',
      { class: 'range retry-window' },
      h('label', {}, 'No email this many hours before a Stripe retry', quiet),
      h('label', {}, 'Such an email goes this many hours after the retry', after),
    ),
    h('p', { class: 'muted small' }, 'Emails go out in day order and are numbered so. A new schedule applies to dunnings that begin after it is saved; running ones keep theirs.'),
  );
  return { element, value, problems };
}

/** The control with an accessible name, for a table cell whose column header alone does not say which email it is. */
function labelled<T extends HTMLElement>(control: T, label: string): T {
  control.setAttribute('aria-label', label);
  return control;
}

/** A schedule as everyone but an owner reads it. */
export function scheduleTable(schedule: DunningScheduleSettings): HTMLElement {
  return h(
    'div',
    {},
    h(
      'table',
      { class: 'data compact narrow' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Email'), h('th', { class: 'num' }, 'Day after the failed payment'), h('th', {}, 'Tone'))),
      h('tbody', {}, schedule.steps.map((st, i) => h('tr', {}, h('td', {}, dunningStepTitle(i)), h('td', { class: 'num' }, String(st.day)), h('td', {}, st.tone)))),
    ),
    h('p', { class: 'muted small' }, `No email in the ${schedule.quietHoursBeforeRetry} hours before a Stripe retry, nor in the ${schedule.hoursAfterRetry} hours after one.`),
  );
}
