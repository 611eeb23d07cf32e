import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { when } from '../format';
import { canConfigure } from '../redaction';
import { actorLabel, errorBox, loading, section } from './common';
import type { DunningScheduleSettings } from '../../../domain/dunning-schedule';
import { scheduleEditor, scheduleTable } from './dunning-schedule';

interface DunningSettings {
  play: string;
  mode: 'off' | 'review' | 'auto';
  autoPercentage: number | null;
  config: DunningScheduleSettings;
  updatedBy: string | null;
  updatedByName: string | null;
  updatedAt: string | null;
}

const MODES: { key: DunningSettings['mode']; label: string; help: string }[] = [
  { key: 'off', label: 'Off', help: 'No dunning emails are drafted.' },
  { key: 'review', label: 'Review', help: 'Each email waits as a draft until someone approves, edits or discards it.' },
  { key: 'auto', label: 'Auto', help: 'Emails go out on schedule, for all customers or a percentage of them.' },
];

/** The play switches: dunning's rollout mode (owners change it) and its schedule. */
export async function playsPage(ctx: PageContext, root: HTMLElement, notice?: string): Promise<void> {
  mount(root, loading());
  const path = `${ctx.apiBase}/plays/dunning/settings`;
  let settings: DunningSettings;
  try {
    settings = await get<DunningSettings>(path);
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const owner = canConfigure(ctx.visibility.role);
  const feedback = h('div', { 'aria-live': 'polite' }, notice ? h('div', { class: 'success', role: 'status' }, notice) : null);
  let mode = settings.mode;
  const percentage = h('input', { type: 'number', name: 'autoPercentage', min: 0, max: 100, step: 1, placeholder: 'all', value: settings.autoPercentage ?? '', disabled: !owner });
  const percentRow = h('label', { class: 'inline' }, 'Share of customers in auto mode (%)', percentage);
  const choices = h('div', { class: 'modes', role: 'radiogroup', 'aria-label': 'Rollout mode' });
  const drawChoices = () => {
    mount(
      choices,
      MODES.map((m) =>
        h(
          'label',
          { class: `mode${m.key === mode ? ' active' : ''}${owner ? '' : ' readonly'}` },
          h('input', {
            type: 'radio',
            name: 'mode',
            value: m.key,
            checked: m.key === mode,
            disabled: !owner,
            onchange: () => {
              mode = m.key;
              drawChoices();
            },
          }),
          h('span', { class: 'mode-label' }, m.label),
          h('span', { class: 'mode-help' }, m.help),
        ),
      ),
    );
    percentRow.hidden = mode !== 'auto';
  };
  drawChoices();

  // Problems shown after a refused save are checked again as the schedule is typed, so
  // they go once mended: announced as an alert at the save, politely (and only when the
  // list changes) while typing, so a screen reader does not read them at every key.
  let shown = '';
  const showProblems = (problems: string[], urgent: boolean) => {
    const listed = problems.join('\n');
    if (!urgent && listed === shown) return;
    shown = listed;
    mount(feedback, problems.length ? h('div', { class: 'error schedule-problems', role: urgent ? 'alert' : null }, h('ul', {}, problems.map((p) => h('li', {}, p)))) : null);
  };
  const recheck = () => {
    if (shown && schedule) showProblems(schedule.problems(), false);
  };
  const schedule = owner ? scheduleEditor(settings.config, recheck) : null;
  // The browser's own checks off: the schedule's problems are named in words, all at once (scheduleEditor).
  const form = h('form', { class: 'plays', novalidate: true }, choices, percentRow, h('h3', {}, 'Schedule'), schedule ? schedule.element : scheduleTable(settings.config), feedback);
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  if (owner) form.append(h('div', { class: 'actions' }, save));
  else form.append(h('p', { class: 'muted' }, `Only owners change a play's mode and schedule; your role is ${ctx.visibility.role}.`));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!schedule) return;
    const problems = schedule.problems();
    showProblems(problems, true);
    if (problems.length) return;
    const share = percentage.value.trim() === '' ? null : Number(percentage.value);
    save.disabled = true;
    request<DunningSettings & { workflowsNotified: number }>('PUT', path, { mode, autoPercentage: mode === 'auto' ? share : null, config: schedule.value() })
      .finally(() => (save.disabled = false))
      .then(
      (saved) =>
        playsPage(ctx, root, `Saved: dunning is ${saved.mode}${saved.mode === 'auto' && saved.autoPercentage !== null ? ` for ${saved.autoPercentage}% of customers` : ''}, in ${saved.config.steps.length} email${saved.config.steps.length === 1 ? '' : 's'}; ${saved.workflowsNotified} running workflow${saved.workflowsNotified === 1 ? '' : 's'} told.`),
      (err: unknown) => mount(feedback, errorBox(err)),
    );
  });

  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Plays'), h('p', { class: 'muted' }, 'What Wysera does on its own, per play. A new mode reaches running workflows at their next step.'))),
    section(
      'Smart dunning',
      h('p', { class: 'muted small' }, settings.updatedAt ? `Last changed ${when(settings.updatedAt)} by ${settings.updatedBy ? actorLabel(ctx, settings.updatedBy, settings.updatedByName) : 'unknown'}.` : 'Never changed: the default applies.'),
      form,
    ),
    section('Renewal notes, churn radar, expansion', h('p', { class: 'muted' }, 'Not available yet.')),
  );
}
