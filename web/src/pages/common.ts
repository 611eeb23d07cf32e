import { ApiError } from '../api';
import { lockIcon } from '../charts';
import type { PageContext } from '../context';
import { h, type Child } from '../dom';

export function errorBox(err: unknown): HTMLElement {
  const message = err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
  return h('div', { class: 'error', role: 'alert' }, message);
}

export function card(title: string, value: string, opts: { sub?: string | undefined; hidden?: boolean; testid?: string } = {}): HTMLElement {
  return h(
    'div',
    { class: `kpi${opts.hidden ? ' hidden-figure' : ''}`, 'data-testid': opts.testid },
    h('div', { class: 'kpi-title' }, title),
    h('div', { class: 'kpi-value' }, opts.hidden ? lockIcon() : null, value),
    opts.sub ? h('div', { class: 'kpi-sub' }, opts.sub) : null,
  );
}

export function section(title: string, ...children: (Node | null)[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

export function loading(): HTMLElement {
  return h('p', { class: 'loading' }, 'Loading…');
}

/** A term and its detail in a `dl.meta` list. */
export function metaRow(term: string, ...detail: (Node | string | null)[]): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, ...detail)];
}

/** Who did something: "you" for the signed-in user, else the name the API gave the actor (api/actor-labels.ts), else the actor as stored. */
export function actorLabel(ctx: PageContext, actor: string, name?: string | null): string {
  return actor === `user:${ctx.session.user.id}` ? 'you' : (name ?? actor);
}

/**
 * A button that asks before it acts: clicked, it gives way to the question, the
 * confirming button (focused, so the question is what a screen reader reads next) and
 * Cancel, which brings the button back with the focus on it. While the action's request
 * runs, the confirming button is disabled, so a second click cannot send it twice.
 * @returns the button and the question, to place side by side.
 */
export function confirmStep(opts: { label: string; question: string; confirm: string; onConfirm: () => Promise<unknown> | void; className?: string; ariaLabel?: string }): [HTMLButtonElement, HTMLElement] {
  const ask = h('button', { type: 'button', class: opts.className ?? 'danger-outline', 'aria-label': opts.ariaLabel }, opts.label);
  const go = h('button', { type: 'button', class: 'danger' }, opts.confirm);
  const cancel = () => {
    step.hidden = true;
    ask.hidden = false;
    ask.focus();
  };
  const step = h('span', { class: 'confirm', hidden: true }, `${opts.question} `, go, h('button', { type: 'button', onclick: cancel }, 'Cancel'));
  ask.addEventListener('click', () => {
    step.hidden = false;
    ask.hidden = true;
    go.focus();
  });
  go.addEventListener('click', () => {
    go.disabled = true;
    void Promise.resolve(opts.onConfirm()).finally(() => (go.disabled = false));
  });
  return [ask, step];
}

/** A secret shown once (a new account's password, a new API token), with how to handle it. */
export function oneTimeSecret(label: string, testid: string, secret: string, advice: string): HTMLElement {
  return h('div', { class: 'one-time' }, h('p', {}, label), h('code', { 'data-testid': testid }, secret), h('p', { class: 'muted small' }, advice));
}

/** A saved change's notice in the feedback of the part drawn again with it, focused once that part is in the page. */
export function noticeIn(feedback: HTMLElement, notice: string | undefined): void {
  if (!notice) return;
  const box = h('div', { class: 'success', role: 'status', tabindex: -1 }, notice);
  feedback.replaceChildren(box);
  queueMicrotask(() => box.focus());
}

/**
 * A customer as people know them, in a table cell: a link to their page titled with
 * their name (else email, else Stripe id), and below it in small print what the title
 * left out of email and id.
 */
export function customerCell(ctx: PageContext, c: { customerId: string; name: string | null; email: string | null }): Child[] {
  const title = c.name ?? c.email ?? c.customerId;
  const rest = [c.name !== null ? c.email : null, title === c.customerId ? null : c.customerId].filter((p) => p !== null);
  return [customerLink(ctx, c.customerId, title), rest.length ? h('div', { class: 'muted small' }, rest.join(' · ')) : null];
}

/** A status (a draft's, a subscription's) as a coloured badge. */
export const statusBadge = (status: string) => h('span', { class: `badge status-${status}` }, status);

/** A churn risk as a coloured badge: its level and score (the reasons are on the customer's page). */
export const riskBadge = (risk: { score: number; level: string }) =>
  h('span', { class: `badge risk risk-${risk.level}`, title: `Churn risk ${risk.score} of 100`, 'aria-label': `churn risk ${risk.level}, ${risk.score} of 100` }, `${risk.level} · ${risk.score}`);

/** A link to a customer's page (pages/customer.ts), labelled with their name where it is known, else their id. */
export function customerLink(ctx: PageContext, customerId: string, label: Child = customerId): HTMLElement {
  return h('a', { href: `${ctx.pageBase}/customers/${encodeURIComponent(customerId)}`, class: 'customer-link' }, label);
}

const SAVE_OFFERS: Record<string, string> = { downgrade: 'the next plan down', success_call: 'a success call', credits: 'credits' };
const SAVE_OUTCOMES: Record<string, string> = {
  sent: 'sent',
  discarded: 'discarded',
  expired: 'not reviewed in time',
  off: 'play turned off',
  failed: 'failed',
  no_longer_at_risk: 'no longer at risk',
  reoffered: 'redrafted: another offer fits now',
  churned: 'left first',
  in_dunning: 'went into dunning',
  no_email: 'no email address',
  no_sender: 'not sent: no sender the provider would take, in time',
  lost: 'its workflow was stopped',
  // The expansion play's own.
  no_longer_eligible: 'nothing to pitch any more',
  at_risk: 'at churn risk now',
  // The renewal play's.
  not_renewing: 'will not renew',
  renewed: 'renewed first',
  moved: 'its renewal date moved',
  refolded: 'redrafted: at churn risk now',
};

/** A churn save's offer in words ("the next plan down"). */
export const saveOffer = (intervention: string) => SAVE_OFFERS[intervention] ?? intervention;
/** How a churn save, an expansion pitch or a renewal note ended, in words; "open" while it waits. */
export const saveOutcome = (outcome: string | null) => (outcome === null ? 'open' : (SAVE_OUTCOMES[outcome] ?? outcome));
