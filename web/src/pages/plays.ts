import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { NONE, when } from '../format';
import { formatCount } from '../../../domain/product-activity';
import { canConfigure } from '../redaction';
import { actorLabel, customerCell, errorBox, loading, riskBadge, saveOffer, saveOutcome, section } from './common';
import type { ChurnSettings } from '../../../domain/churn-save';
import type { ExpansionEvidence, ExpansionSettings } from '../../../domain/expansion';
import type { RenewalSettings } from '../../../domain/renewal';
import type { DunningScheduleSettings } from '../../../domain/dunning-schedule';
import type { RolloutMode as Mode } from '../../../domain/rollout';
import { scheduleEditor, scheduleTable } from './dunning-schedule';

/** The mode choices of a play, worded for what it writes ("dunning emails", "save emails"). */
const modesFor = (what: string): { key: Mode; label: string; help: string }[] => [
  { key: 'off', label: 'Off', help: `No ${what} are drafted.` },
  { key: 'review', label: 'Review', help: 'Each email waits as a draft until someone approves, edits or discards it.' },
  { key: 'auto', label: 'Auto', help: 'Emails go out on schedule, for all customers or a percentage of them.' },
];

/**
 * A play's rollout: its mode as radio buttons and, in auto, the share of customers;
 * read-only below owner. `play` names the group for screen readers ("Churn radar").
 */
function rolloutChooser(initial: { mode: Mode; autoPercentage: number | null }, owner: boolean, play: string, what: string) {
  let mode = initial.mode;
  const percentage = h('input', { type: 'number', name: 'autoPercentage', min: 0, max: 100, step: 1, placeholder: 'all', value: initial.autoPercentage ?? '', disabled: !owner });
  const percentRow = h('label', { class: 'inline' }, 'Share of customers in auto mode (%)', percentage);
  const labels = modesFor(what).map((m) =>
    h(
      'label',
      { class: `mode${owner ? '' : ' readonly'}`, 'data-mode': m.key },
      h('input', {
        type: 'radio',
        name: 'mode',
        value: m.key,
        checked: m.key === mode,
        disabled: !owner,
        onchange: () => {
          mode = m.key;
          mark();
        },
      }),
      h('span', { class: 'mode-label' }, m.label),
      h('span', { class: 'mode-help' }, m.help),
    ),
  );
  const choices = h('div', { class: 'modes', role: 'radiogroup', 'aria-label': `${play} rollout mode` }, labels);
  // Marked in place, not drawn again, so the focus stays on the radio as arrow keys move it.
  const mark = () => {
    for (const label of labels) label.classList.toggle('active', label.dataset.mode === mode);
    percentRow.hidden = mode !== 'auto';
  };
  mark();
  return {
    elements: [choices, percentRow],
    value: () => ({ mode, autoPercentage: mode === 'auto' && percentage.value.trim() !== '' ? Number(percentage.value) : null }),
  };
}

/** "auto for 25% of customers", "review". */
const modeText = (s: { mode: Mode; autoPercentage: number | null }) => `${s.mode}${s.mode === 'auto' && s.autoPercentage !== null ? ` for ${s.autoPercentage}% of customers` : ''}`;
const told = (n: number) => `${n} running workflow${n === 1 ? '' : 's'} told`;
const changed = (ctx: PageContext, s: { updatedAt: string | null; updatedBy: string | null; updatedByName: string | null }) =>
  h('p', { class: 'muted small' }, s.updatedAt ? `Last changed ${when(s.updatedAt)} by ${s.updatedBy ? actorLabel(ctx, s.updatedBy, s.updatedByName) : 'unknown'}.` : 'Never changed: the default applies.');

interface PlaySettingsView<C> {
  play: string;
  mode: Mode;
  autoPercentage: number | null;
  config: C;
  updatedBy: string | null;
  updatedByName: string | null;
  updatedAt: string | null;
}

interface ChurnSave {
  id: string;
  customerId: string;
  /** Null where Stripe has none, or the workspace hides them from the reader. */
  name: string | null;
  email: string | null;
  risk: { score: number; level: string; reasons: { code: string; text: string }[] };
  threshold: number;
  intervention: string | null;
  startedAt: string;
  outcome: string | null;
}

interface ExpansionPitch {
  id: string;
  customerId: string;
  /** Null where Stripe has none, or the workspace hides them from the reader. */
  name: string | null;
  email: string | null;
  trigger: 'near_limit' | 'seats_added';
  /** Null where the workspace hides the product's activity from the reader (a limit's use). */
  evidence: ExpansionEvidence | null;
  targetProductId: string;
  startedAt: string;
  outcome: string | null;
}

interface RenewalNote {
  id: string;
  customerId: string;
  /** Null where Stripe has none, or the workspace hides them from the reader. */
  name: string | null;
  email: string | null;
  subscriptionId: string;
  renewsAt: string;
  fold: 'plain' | 'save' | 'upgrade' | null;
  startedAt: string;
  outcome: string | null;
}

/** The play switches: each play's rollout mode (owners change it) and its own settings. */
export async function playsPage(ctx: PageContext, root: HTMLElement, notice?: string): Promise<void> {
  mount(root, loading());
  let dunning: PlaySettingsView<DunningScheduleSettings>;
  let churn: PlaySettingsView<ChurnSettings>;
  let saves: ChurnSave[];
  let expansion: PlaySettingsView<ExpansionSettings>;
  let pitches: ExpansionPitch[];
  let plans: Map<string, string>;
  let renewal: PlaySettingsView<RenewalSettings>;
  let notes: RenewalNote[];
  try {
    let mapping: { products: { productId: string; planName: string }[] };
    [dunning, churn, { saves }, expansion, { pitches }, mapping, renewal, { notes }] = await Promise.all([
      get<PlaySettingsView<DunningScheduleSettings>>(`${ctx.apiBase}/plays/dunning/settings`),
      get<PlaySettingsView<ChurnSettings>>(`${ctx.apiBase}/plays/churn/settings`),
      get<{ saves: ChurnSave[] }>(`${ctx.apiBase}/churn-saves?limit=10`),
      get<PlaySettingsView<ExpansionSettings>>(`${ctx.apiBase}/plays/expansion/settings`),
      get<{ pitches: ExpansionPitch[] }>(`${ctx.apiBase}/expansion-pitches?limit=10`),
      get<{ products: { productId: string; planName: string }[] }>(`${ctx.apiBase}/product-mapping`),
      get<PlaySettingsView<RenewalSettings>>(`${ctx.apiBase}/plays/renewal/settings`),
      get<{ notes: RenewalNote[] }>(`${ctx.apiBase}/renewal-notes?limit=10`),
    ]);
    plans = new Map(mapping.products.map((p) => [p.productId, p.planName]));
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const owner = canConfigure(ctx.visibility.role);
  const readOnly = owner ? null : h('p', { class: 'muted' }, `Only owners change a play's mode and settings; your role is ${ctx.visibility.role}.`);
  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Plays'), h('p', { class: 'muted' }, 'What Wysera does on its own, per play. A new mode reaches running workflows at their next step.'))),
    h('div', { id: 'play-dunning' }, section('Smart dunning', changed(ctx, dunning), dunningForm(ctx, root, dunning, owner, notice?.startsWith('Saved: dunning') ? notice : undefined), readOnly?.cloneNode(true) ?? null)),
    h('div', { id: 'play-churn' }, section('Churn radar', changed(ctx, churn), churnForm(ctx, root, churn, owner, notice?.startsWith('Saved: the churn radar') ? notice : undefined), readOnly, savesList(ctx, saves, churn.mode))),
    h(
      'div',
      { id: 'play-expansion' },
      section('Expansion', changed(ctx, expansion), expansionForm(ctx, root, expansion, owner, notice?.startsWith('Saved: expansion') ? notice : undefined), readOnly?.cloneNode(true) ?? null, pitchesList(ctx, pitches, plans, expansion.mode)),
    ),
    h(
      'div',
      { id: 'play-renewal' },
      section('Renewal notes', changed(ctx, renewal), renewalForm(ctx, root, renewal, owner, notice?.startsWith('Saved: renewal') ? notice : undefined), readOnly?.cloneNode(true) ?? null, notesList(ctx, notes, renewal.mode)),
    ),
  );
}

function dunningForm(ctx: PageContext, root: HTMLElement, settings: PlaySettingsView<DunningScheduleSettings>, owner: boolean, notice: string | undefined): HTMLElement {
  const feedback = h('div', { 'aria-live': 'polite' }, notice ? h('div', { class: 'success', role: 'status' }, notice) : null);
  const rollout = rolloutChooser(settings, owner, 'Smart dunning', 'dunning emails');

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
  const form = h('form', { class: 'plays', novalidate: true }, ...rollout.elements, h('h3', {}, 'Schedule'), schedule ? schedule.element : scheduleTable(settings.config), feedback);
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  if (owner) form.append(h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!schedule) return;
    const problems = schedule.problems();
    showProblems(problems, true);
    if (problems.length) return;
    save.disabled = true;
    request<PlaySettingsView<DunningScheduleSettings> & { workflowsNotified: number }>('PUT', `${ctx.apiBase}/plays/dunning/settings`, { ...rollout.value(), config: schedule.value() })
      .finally(() => (save.disabled = false))
      .then(
        (saved) => playsPage(ctx, root, `Saved: dunning is ${modeText(saved)}, in ${saved.config.steps.length} email${saved.config.steps.length === 1 ? '' : 's'}; ${told(saved.workflowsNotified)}.`),
        (err: unknown) => mount(feedback, errorBox(err)),
      );
  });
  return form;
}

/** The radar's mode and settings: the threshold, the cooldown, the credits' share and the booking address. */
function churnForm(ctx: PageContext, root: HTMLElement, settings: PlaySettingsView<ChurnSettings>, owner: boolean, notice: string | undefined): HTMLElement {
  const feedback = h('div', { 'aria-live': 'polite' }, notice ? h('div', { class: 'success', role: 'status' }, notice) : null);
  const rollout = rolloutChooser(settings, owner, 'Churn radar', 'save emails');
  const c = settings.config;
  const field = (name: keyof ChurnSettings, label: string, attrs: Record<string, string | number | boolean | null>) =>
    h('label', { class: 'inline' }, label, h('input', { name, disabled: !owner, ...attrs }));
  const threshold = field('threshold', 'Reach out at a risk score of', { type: 'number', min: 1, max: 100, step: 1, required: true, value: c.threshold });
  const cooldown = field('cooldownDays', 'Days before another save for the same customer', { type: 'number', min: 1, max: 365, step: 1, required: true, value: c.cooldownDays });
  const credit = field('creditPercent', 'Credits offered (% of the monthly price)', { type: 'number', min: 1, max: 100, step: 1, required: true, value: c.creditPercent });
  const booking = field('successCallUrl', 'Where customers book a success call (optional)', { type: 'url', placeholder: 'https://…', value: c.successCallUrl ?? '' });
  const form = h(
    'form',
    { class: 'plays churn', novalidate: true },
    h('p', { class: 'muted small' }, 'When a customer’s churn risk reaches the threshold, the radar drafts one email with an offer chosen from the reasons: the next plan down for a customer paying for more than they use, credits for trouble with the product, a success call for one drifting away. Customers in dunning are left to it.'),
    ...rollout.elements,
    threshold,
    cooldown,
    credit,
    booking,
    feedback,
  );
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save churn radar');
  if (owner) form.append(h('div', { class: 'actions' }, save));
  const value = (label: HTMLElement) => (label.querySelector('input') as HTMLInputElement).value.trim();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const config = { threshold: Number(value(threshold)), cooldownDays: Number(value(cooldown)), creditPercent: Number(value(credit)), successCallUrl: value(booking) || null };
    save.disabled = true;
    request<PlaySettingsView<ChurnSettings> & { workflowsNotified: number }>('PUT', `${ctx.apiBase}/plays/churn/settings`, { ...rollout.value(), config })
      .finally(() => (save.disabled = false))
      .then(
        (saved) => playsPage(ctx, root, `Saved: the churn radar is ${modeText(saved)}, reaching out at a score of ${saved.config.threshold}; ${told(saved.workflowsNotified)}.`),
        (err: unknown) => mount(feedback, errorBox(err)),
      );
  });
  return form;
}

/** The radar's latest saves: who, why (the biggest reason), the offer and how it ended. */
function savesList(ctx: PageContext, saves: ChurnSave[], mode: Mode): HTMLElement {
  const heading = h('h3', {}, 'Latest saves');
  const none = mode === 'off' ? 'No saves: the churn radar is off.' : 'No saves yet: the radar looks at every customer regularly (hourly by default).';
  if (!saves.length) return h('div', {}, heading, h('p', { class: 'muted', 'data-testid': 'churn-saves' }, none));
  const table = h(
    'table',
    { class: 'data saves', 'data-testid': 'churn-saves' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Customer'), h('th', {}, 'Risk'), h('th', {}, 'Offer'), h('th', {}, 'Started'), h('th', {}, 'Outcome'))),
    h(
      'tbody',
      {},
      saves.map((s) =>
        h(
          'tr',
          {},
          h('td', {}, ...customerCell(ctx, s)),
          h('td', {}, riskBadge(s.risk), h('div', { class: 'muted small' }, s.risk.reasons[0]?.text ?? '')),
          h('td', {}, s.intervention ? saveOffer(s.intervention) : NONE),
          h('td', {}, when(s.startedAt)),
          h('td', {}, saveOutcome(s.outcome)),
        ),
      ),
    ),
  );
  return h('div', {}, heading, table);
}

/** The expansion play's mode and settings: the cooldown and what counts as a team growing. */
function expansionForm(ctx: PageContext, root: HTMLElement, settings: PlaySettingsView<ExpansionSettings>, owner: boolean, notice: string | undefined): HTMLElement {
  const feedback = h('div', { 'aria-live': 'polite' }, notice ? h('div', { class: 'success', role: 'status' }, notice) : null);
  const rollout = rolloutChooser(settings, owner, 'Expansion', 'upgrade pitches');
  const c = settings.config;
  const field = (name: keyof ExpansionSettings, label: string, value: number, max: number) =>
    h('label', { class: 'inline' }, label, h('input', { name, type: 'number', min: 1, max, step: 1, required: true, value, disabled: !owner }));
  const seats = field('seatsAdded', 'Pitch the unlimited tier when a customer adds this many seats', c.seatsAdded, 10_000);
  const within = field('seatWindowDays', 'Within (days)', c.seatWindowDays, 90);
  const cooldown = field('cooldownDays', 'Days before another pitch to the same customer', c.cooldownDays, 365);
  const form = h(
    'form',
    { class: 'plays expansion', novalidate: true },
    h(
      'p',
      { class: 'muted small' },
      'A customer who reaches 80% of a usage limit of their plan gets a pitch for the next plan up that allows more, citing their use; a team that adds seats gets a pitch for the first plan with unlimited seats. Limits come from the product mapping (Plans). No pitch to a customer in dunning, at churn risk or being saved.',
    ),
    ...rollout.elements,
    seats,
    within,
    cooldown,
    feedback,
  );
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save expansion');
  if (owner) form.append(h('div', { class: 'actions' }, save));
  const value = (label: HTMLElement) => Number((label.querySelector('input') as HTMLInputElement).value.trim());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const config = { seatsAdded: value(seats), seatWindowDays: value(within), cooldownDays: value(cooldown) };
    save.disabled = true;
    request<PlaySettingsView<ExpansionSettings> & { workflowsNotified: number }>('PUT', `${ctx.apiBase}/plays/expansion/settings`, { ...rollout.value(), config })
      .finally(() => (save.disabled = false))
      .then(
        (saved) => playsPage(ctx, root, `Saved: expansion is ${modeText(saved)}, cooling down for ${saved.config.cooldownDays} days after a pitch; ${told(saved.workflowsNotified)}.`),
        (err: unknown) => mount(feedback, errorBox(err)),
      );
  });
  return form;
}

/** Why a pitch began, in words: "8,600 of 10,000 reports generated (86%)", "6 → 9 seats". */
function pitchReason(p: ExpansionPitch): string {
  const e = p.evidence;
  if (!e) return p.trigger === 'near_limit' ? 'near a usage limit (hidden for your role)' : 'seats added';
  if (e.trigger === 'near_limit') return `${formatCount(e.used)} of ${formatCount(e.included)} ${e.label} (${e.percent}%)`;
  return `${e.from} → ${e.to} seats (+${e.added})`;
}

/** The play's latest pitches: who, why, the plan pitched and how it ended. */
function pitchesList(ctx: PageContext, pitches: ExpansionPitch[], plans: Map<string, string>, mode: Mode): HTMLElement {
  const heading = h('h3', {}, 'Latest pitches');
  const none = mode === 'off' ? 'No pitches: the expansion play is off.' : 'No pitches yet: the play looks at every customer regularly (hourly by default).';
  if (!pitches.length) return h('div', {}, heading, h('p', { class: 'muted', 'data-testid': 'expansion-pitches' }, none));
  const table = h(
    'table',
    { class: 'data pitches', 'data-testid': 'expansion-pitches' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Customer'), h('th', {}, 'Why'), h('th', {}, 'Plan pitched'), h('th', {}, 'Started'), h('th', {}, 'Outcome'))),
    h(
      'tbody',
      {},
      pitches.map((p) =>
        h(
          'tr',
          {},
          h('td', {}, ...customerCell(ctx, p)),
          h('td', {}, pitchReason(p)),
          h('td', {}, plans.get(p.targetProductId) ?? p.targetProductId),
          h('td', {}, when(p.startedAt)),
          h('td', {}, saveOutcome(p.outcome)),
        ),
      ),
    ),
  );
  return h('div', {}, heading, table);
}

/** The renewal play's mode and settings: how long before a renewal it writes, and whether it folds in offers. */
function renewalForm(ctx: PageContext, root: HTMLElement, settings: PlaySettingsView<RenewalSettings>, owner: boolean, notice: string | undefined): HTMLElement {
  const feedback = h('div', { 'aria-live': 'polite' }, notice ? h('div', { class: 'success', role: 'status' }, notice) : null);
  const rollout = rolloutChooser(settings, owner, 'Renewal notes', 'renewal notes');
  const days = h('input', { name: 'daysBefore', type: 'number', min: 7, max: 90, step: 1, required: true, value: settings.config.daysBefore, disabled: !owner });
  const offers = h('input', { name: 'offers', type: 'checkbox', checked: settings.config.offers, disabled: !owner });
  const form = h(
    'form',
    { class: 'plays renewal', novalidate: true },
    h(
      'p',
      { class: 'muted small' },
      'Before a quarterly or annual subscription renews, one note with the date, the price and what the customer used. A customer at churn risk gets the churn radar’s offer in it, one ready to grow the plan up; customers in dunning are left to it.',
    ),
    ...rollout.elements,
    h('label', { class: 'inline' }, 'Days before the renewal', days),
    h('label', { class: 'inline checkbox' }, offers, 'Fold in a save offer or an upgrade where the customer calls for one'),
    feedback,
  );
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save renewal notes');
  if (owner) form.append(h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const config = { daysBefore: Number(days.value.trim()), offers: offers.checked };
    save.disabled = true;
    request<PlaySettingsView<RenewalSettings> & { workflowsNotified: number }>('PUT', `${ctx.apiBase}/plays/renewal/settings`, { ...rollout.value(), config })
      .finally(() => (save.disabled = false))
      .then(
        (saved) => playsPage(ctx, root, `Saved: renewal notes are ${modeText(saved)}, written ${saved.config.daysBefore} days before; ${told(saved.workflowsNotified)}.`),
        (err: unknown) => mount(feedback, errorBox(err)),
      );
  });
  return form;
}

const FOLDS: Record<string, string> = { plain: 'the renewal', save: 'with a save offer', upgrade: 'with an upgrade' };

/** The play's latest notes: who, when it renews, what the note folded in, how it ended. */
function notesList(ctx: PageContext, notes: RenewalNote[], mode: Mode): HTMLElement {
  const heading = h('h3', {}, 'Latest notes');
  const none = mode === 'off' ? 'No notes: renewal notes are off.' : 'No notes yet: the play looks for renewals regularly (hourly by default).';
  if (!notes.length) return h('div', {}, heading, h('p', { class: 'muted', 'data-testid': 'renewal-notes' }, none));
  const table = h(
    'table',
    { class: 'data notes', 'data-testid': 'renewal-notes' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Customer'), h('th', {}, 'Renews'), h('th', {}, 'Note'), h('th', {}, 'Started'), h('th', {}, 'Outcome'))),
    h(
      'tbody',
      {},
      notes.map((n) =>
        h(
          'tr',
          {},
          h('td', {}, ...customerCell(ctx, n)),
          h('td', {}, when(n.renewsAt)),
          h('td', {}, n.fold ? (FOLDS[n.fold] ?? n.fold) : NONE),
          h('td', {}, when(n.startedAt)),
          h('td', {}, saveOutcome(n.outcome)),
        ),
      ),
    ),
  );
  return h('div', {}, heading, table);
}
