import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { count, secondsInWords, when } from '../format';
import { canConfigure } from '../redaction';
import { syncWarnings, type SyncLiveness, type SyncWarningCode } from '../../../domain/sync-liveness';
import type { ResourceEstimate as ResourceProgress } from '../../../domain/sync-progress';
import { actorLabel, errorBox, loading, metaRow, section } from './common';
import { plansSection, type PlanView } from './plans';

/** The workspace as GET /workspaces/:id shows it (only what the page reads). */
interface Connection {
  stripeAccountId: string | null;
  livemode: boolean;
  hasStripeKey: boolean;
}

interface SyncRun {
  runId: string;
  mode: 'full' | 'since';
  windowStart: string | null;
  status: 'running' | 'completed' | 'failed';
  error: string | null;
  requestedBy: string;
  /** Who that is, as the API names them; absent in a start's own answer. */
  requestedByName?: string | null;
  startedAt: string;
  finishedAt: string | null;
}


/** GET /workspaces/:id/sync. */
interface SyncProgress {
  run: SyncRun | null;
  resources: ResourceProgress[];
  etaSeconds: number | null;
  /** While a run is running: whether anything works on it. */
  liveness: SyncLiveness | null;
}

/** PUT /workspaces/:id/stripe-key's answer (only what the page reads). */
interface KeyStored {
  validation: { unverified: string[]; missingRecommended: { permission: string; without: string }[] };
  sync: SyncRun | null;
  syncError?: string;
}

/** How often a running sync's progress is read again while the page shows it. */
const REFRESH_MS = 3000;
/** Counts the page's renders: a refresh loop ends once a later render (or another page) has taken its place. */
let renders = 0;

function progressRow(r: ResourceProgress): HTMLElement {
  const share = r.done ? 1 : r.fraction;
  return h(
    'tr',
    { 'data-resource': r.resource },
    h('td', {}, r.resource.replace(/_/g, ' ')),
    h('td', { class: 'num' }, count(r.objects)),
    h('td', { class: 'num' }, count(r.pages)),
    h(
      'td',
      {},
      share === null
        ? h('span', { class: 'muted' }, 'reading; how far is not known yet')
        : h('progress', { max: 100, value: Math.round(share * 100), 'aria-label': `${r.resource}: ${Math.round(share * 100)}%` }),
    ),
    h('td', {}, r.done ? 'done' : r.etaSeconds === null ? '—' : `about ${secondsInWords(r.etaSeconds)} left`),
  );
}

/** Seconds since a time. */
const secondsSince = (iso: string) => Math.max(0, (Date.now() - Date.parse(iso)) / 1000);

/** A warning in a few words, for what a screen reader hears when the warnings change. */
const WARNING_GIST: Record<SyncWarningCode, string> = {
  temporal_unknown: 'Temporal did not answer',
  workflow_closed: "the sync's workflow has ended",
  workflow_paused: "the sync's workflow is paused",
  no_worker: 'no worker is running it',
  retrying: 'Stripe reads are failing',
};

/** The kinds of warning a read of the sync gives, in a stable order: what the announcement follows. */
const warningKinds = (progress: SyncProgress): SyncWarningCode[] =>
  progress.liveness ? [...new Set(syncWarnings(progress.liveness, new Date()).map((w) => w.code))].sort() : [];

/**
 * Says aloud only what changed. The warnings' own text moves at every refresh (times
 * and attempts), so a live region over them would be read again every few seconds;
 * this one, kept across refreshes, speaks when a kind of warning comes or goes.
 */
function announceWarnings(region: HTMLElement, before: SyncWarningCode[], after: SyncWarningCode[]): void {
  if (before.join() === after.join()) return;
  region.textContent = after.length ? `This sync has warnings: ${after.map((c) => WARNING_GIST[c]).join('; ')}.` : "This sync's warnings have cleared.";
}

/** The latest sync: what it copies, how far each resource is, and how it ended. */
function syncSection(ctx: PageContext, progress: SyncProgress, actions: HTMLElement | null): HTMLElement {
  const { run } = progress;
  if (!run) return section('Sync', h('p', { class: 'empty-state' }, 'No sync has run yet.'), actions);
  const status =
    run.status === 'running'
      ? `running${progress.etaSeconds ? `, about ${secondsInWords(progress.etaSeconds)} left` : ''}`
      : run.status === 'completed'
        ? `completed ${when(run.finishedAt)}`
        : `failed ${when(run.finishedAt)}`;
  return section(
    'Sync',
    h(
      'dl',
      { class: 'meta sync-run', 'data-status': run.status },
      metaRow('Status', status),
      metaRow('What', run.mode === 'full' ? `everything${run.windowStart ? ` created since ${when(run.windowStart)}` : ''}` : `what was created since ${when(run.windowStart)}`),
      metaRow('Started', `${when(run.startedAt)} by ${actorLabel(ctx, run.requestedBy, run.requestedByName)}`),
      progress.liveness ? metaRow('Last page stored', `${secondsInWords(secondsSince(progress.liveness.lastProgressAt))} ago`) : [],
    ),
    progress.liveness
      ? h(
          'div',
          { class: 'sync-warnings' },
          syncWarnings(progress.liveness, new Date()).map((w) => h('div', { class: 'error sync-warning', 'data-code': w.code }, w.message)),
        )
      : null,
    run.error ? h('pre', { class: 'error-text sync-error' }, run.error) : null,
    progress.resources.length
      ? h(
          'table',
          { class: 'data sync-resources' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Resource'), h('th', { class: 'num' }, 'Objects'), h('th', { class: 'num' }, 'Pages'), h('th', {}, 'Progress'), h('th', {}, 'Left'))),
          h('tbody', {}, progress.resources.map(progressRow)),
        )
      : h('p', { class: 'muted' }, 'No page read yet.'),
    actions,
  );
}

/**
 * The Stripe connection: which account and mode the workspace mirrors, whether a key
 * is stored, and the latest sync with each resource's progress (read again every few
 * seconds while it runs). Owners start a sync and connect or replace the key; the key
 * is checked against Stripe before it is stored and never shown back.
 * @param keptPlans the plans section as an owner left it with unsaved edits, put back
 * in place of a fresh one when an action (a sync started, a key connected) draws the
 * page again, so those edits are not lost.
 */
export async function stripePage(ctx: PageContext, root: HTMLElement, notice?: string, keptPlans?: Element): Promise<void> {
  // The plans have a section of their own: when they cannot be read, it says so there.
  const readPlans = () =>
    get<{ products: PlanView[] }>(`${ctx.apiBase}/product-mapping`).then(
      (r) => r.products,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
  const render = ++renders;
  mount(root, loading());
  let connection: Connection;
  let progress: SyncProgress;
  let plans: PlanView[] | Error;
  try {
    [connection, progress, plans] = await Promise.all([
      get<Connection>(ctx.apiBase),
      get<SyncProgress>(`${ctx.apiBase}/sync`),
      readPlans(),
    ]);
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const owner = canConfigure(ctx.visibility.role);
  const noticeBox = notice ? h('div', { class: 'success', role: 'status', tabindex: -1 }, notice) : null;
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' }, noticeBox);
  const announcer = h('div', { class: 'sync-announce visually-hidden', 'aria-live': 'polite' });

  /** Sends an owner's change, then shows the page again with what it did. */
  const act = <T>(button: HTMLButtonElement, method: 'POST' | 'PUT', path: string, body: unknown, done: (answer: T) => string) => {
    button.disabled = true;
    mount(feedback);
    request<T>(method, path, body).then(
      (answer) => stripePage(ctx, root, done(answer), root.querySelector('form.plan-mapping[data-edited]')?.closest('section.plans-section') ?? undefined),
      (err: unknown) => {
        button.disabled = false;
        mount(feedback, errorBox(err));
      },
    );
  };

  const syncActions = () => {
    if (!owner || !connection.hasStripeKey) return null;
    const running = progress.run?.status === 'running';
    const everything = h('button', { type: 'button', class: 'sync-full', disabled: running }, 'Sync everything');
    everything.addEventListener('click', () => act<SyncRun>(everything, 'POST', `${ctx.apiBase}/sync`, { mode: 'full' }, () => 'Sync started: everything in the history window is read again.'));
    const since = h('input', { type: 'date', name: 'since', required: true, max: new Date().toISOString().slice(0, 10), title: 'Read again what was created in Stripe from this day on (UTC)' });
    const recent = h('button', { type: 'submit', disabled: running }, 'Sync since');
    const form = h('form', { class: 'range sync-since' }, everything, h('span', { class: 'muted' }, 'or'), recent, since);
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      act<SyncRun>(recent, 'POST', `${ctx.apiBase}/sync`, { mode: 'since', since: `${since.value}T00:00:00Z` }, () => `Sync started: what was created since ${since.value} is read again.`);
    });
    return h('div', { class: 'sync-actions' }, form, running ? h('p', { class: 'muted' }, 'One sync runs at a time: a new one can start once this one ends.') : null);
  };

  const keyForm = () => {
    if (!owner) return null;
    const key = h('input', {
      name: 'stripeKey',
      type: 'password',
      autocomplete: 'new-password',
      'aria-label': 'New Stripe key',
      required: true,
      pattern: '\\s*(rk|sk)_(live|test)_[A-Za-z0-9]+\\s*',
      placeholder: connection.livemode ? 'rk_live_…' : 'rk_test_…',
      title: 'A restricted key (Developers → API keys → Create restricted key) with the permissions Wysera needs',
    });
    const syncAfter = h('input', { type: 'checkbox', name: 'sync', checked: !connection.hasStripeKey });
    const button = h('button', { type: 'submit' }, connection.hasStripeKey ? 'Check and replace' : 'Check and connect');
    const form = h('form', { class: 'range stripe-key' }, key, h('label', { class: 'check' }, syncAfter, 'then sync everything'), button);
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      act<KeyStored>(button, 'PUT', `${ctx.apiBase}/stripe-key`, { stripeKey: key.value.trim(), sync: syncAfter.checked }, (answer) => {
        const unverified = answer.validation.unverified.length ? ` Not provable without a write, so check them in Stripe: ${answer.validation.unverified.join(', ')}.` : '';
        // Accepted without them, but they cost something: said so, so the owner can add them in Stripe.
        const recommended = answer.validation.missingRecommended.map((m) => ` Without ${m.permission}: ${m.without}.`).join('');
        const sync = answer.sync ? ' A full sync has started.' : answer.syncError ? ` The sync could not start: ${answer.syncError}` : '';
        return `Key checked against Stripe and stored.${unverified}${recommended}${sync}`;
      });
    });
    return form;
  };

  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Stripe'), h('p', { class: 'muted' }, 'The Stripe account this workspace mirrors, and its sync.'))),
    feedback,
    announcer,
    section(
      'Connection',
      h(
        'dl',
        { class: 'meta stripe-connection' },
        metaRow('Account', connection.stripeAccountId ?? (connection.hasStripeKey ? "the key's own account" : 'none yet')),
        metaRow('Mode', connection.livemode ? 'live' : 'test'),
        metaRow(
          'Key',
          connection.hasStripeKey ? 'stored encrypted; never shown' : 'none: connect one so that Wysera can sync and its plays can read invoices',
          keyForm(),
        ),
      ),
    ),
    syncSection(ctx, progress, syncActions()),
    keptPlans ?? plansSection(ctx, plans),
  );
  const redrawPlans = async () => {
    const fresh = await readPlans();
    if (render === renders) root.querySelector('section.plans-section')?.replaceWith(plansSection(ctx, fresh));
  };
  noticeBox?.focus();
  // While a sync runs, its progress is read again as long as this page is the one shown.
  if (progress.run?.status === 'running') {
    const current = () => render === renders && root.querySelector('.sync-run') !== null;
    const refresh = async () => {
      if (!current()) return;
      try {
        const next = await get<SyncProgress>(`${ctx.apiBase}/sync`);
        if (!current()) return;
        announceWarnings(announcer, warningKinds(progress), warningKinds(next));
        progress = next;
        // Only the sync's section is drawn again: an owner's unsaved edits elsewhere stay.
        root.querySelector('.sync-run')?.closest('section')?.replaceWith(syncSection(ctx, next, syncActions()));
        if (next.run?.status !== 'running') {
          // A sync that ended may have brought products: the plans are read again unless an owner is editing them.
          if (!root.querySelector('form.plan-mapping[data-edited]')) await redrawPlans();
          return;
        }
      } catch {
        // A missed read shows the last progress a little longer.
      }
      setTimeout(() => void refresh(), REFRESH_MS);
    };
    setTimeout(() => void refresh(), REFRESH_MS);
  }
}
