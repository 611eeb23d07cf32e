import { request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { entryPriceText, HIDDEN, NONE } from '../format';
import { canConfigure, isHidden } from '../redaction';
import { limitsEqual, limitsText, parseLimits } from '../../../domain/product-mapping';
import type { PriceBasis } from '../../../domain/price-amount';
import { errorBox, noticeIn, section } from './common';

/** A plan as GET .../product-mapping answers it (domain/product-mapping.ts PlanMapping). */
export interface PlanView {
  productId: string;
  productName: string;
  planName: string;
  tierRank: number;
  limits: Record<string, number | null>;
  monthlyAmount: number | null;
  entryBasis: PriceBasis | null;
  currency: string | null;
  source: 'default' | 'override';
}

/** The entry price's cell: what it costs a month and what that buys (a unit, a package, one unit of tiers). */
function entryPriceCell(p: PlanView, hidden: boolean): HTMLElement {
  if (hidden) return h('td', { class: 'num nowrap' }, HIDDEN);
  if (p.monthlyAmount === null || p.currency === null) return h('td', { class: 'num nowrap' }, NONE);
  const { price, note } = entryPriceText(p.monthlyAmount, p.currency, p.entryBasis);
  return h('td', { class: 'num nowrap' }, price, note ? h('div', { class: 'muted small' }, note) : null);
}

interface Override {
  productId: string;
  planName: string;
  tierRank: number;
  limits: Record<string, number | null>;
}

/**
 * Stripe's subscription products as plans, cheapest first: the name and tier the plays
 * use for "the next plan up or down", and each plan's limits. Owners change any of it;
 * a row left alone keeps following the catalogue.
 */
export function plansSection(ctx: PageContext, plans: PlanView[] | Error, notice?: string): HTMLElement {
  const intro = h('p', { class: 'muted small' }, 'Derived from the products sold by subscription (names, price order, metadata such as seats or limit_<metric>); a row you change stops following them until it is put back.');
  if (plans instanceof Error) return plansPanel(intro, errorBox(plans));
  if (!plans.length) return plansPanel(intro, h('p', { class: 'empty-state' }, 'No product sold by subscription is mirrored yet: they appear after a sync.'));
  const owner = canConfigure(ctx.visibility.role);
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  noticeIn(feedback, notice);
  // Prices are revenue figures: below finance the API answers null, said as hidden rather than as no price.
  const priceHidden = isHidden(ctx.visibility, 'monthlyAmount', true);
  const rows = plans.map((p) => {
    const planName = h('input', { type: 'text', name: 'planName', value: p.planName, maxlength: 200, required: true, readonly: !owner, 'aria-label': `${p.productName}: plan name` });
    const tierRank = h('input', { type: 'number', name: 'tierRank', value: p.tierRank, min: 1, max: 10000, step: 1, required: true, readonly: !owner, 'aria-label': `${p.productName}: tier` });
    const limits = h('input', { type: 'text', name: 'limits', value: limitsText(p.limits), placeholder: 'seats=5, api_calls=unlimited', readonly: !owner, 'aria-label': `${p.productName}: limits` });
    const backToDefault = h('input', { type: 'checkbox', name: 'useDefault' });
    // Changed in what it says, not in how it is typed: the same limits in another order, or a name with a space around it, leave the row following Stripe.
    const sameLimits = () => {
      if (limits.value.trim() === limitsText(p.limits)) return true;
      const parsed = parseLimits(limits.value);
      return typeof parsed !== 'string' && limitsEqual(parsed, p.limits);
    };
    const edited = () => planName.value.trim() !== p.planName || Number(tierRank.value) !== p.tierRank || !sameLimits();
    const tr = h(
      'tr',
      { 'data-product': p.productId },
      h('td', {}, p.productName, h('div', { class: 'muted small' }, p.productId)),
      h('td', {}, planName),
      h('td', { class: 'num' }, tierRank),
      h('td', {}, limits),
      entryPriceCell(p, priceHidden),
      h('td', {}, p.source === 'override' ? (owner ? h('label', { class: 'check' }, backToDefault, 'changed; put back') : 'changed') : 'from Stripe'),
    );
    /** This row's override to send: undefined when it follows the catalogue, a string when it is wrong. */
    const override = (): Override | string | undefined => {
      if (backToDefault.checked || (p.source === 'default' && !edited())) return undefined;
      const parsed = parseLimits(limits.value);
      if (typeof parsed === 'string') return `${p.productName}: limits: ${parsed}`;
      return { productId: p.productId, planName: planName.value.trim(), tierRank: Number(tierRank.value), limits: parsed };
    };
    return { tr, override, name: p.productName };
  });
  const table = h(
    'table',
    { class: 'data plans' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Product'), h('th', {}, 'Plan name'), h('th', { class: 'num' }, 'Tier (1 = cheapest)'), h('th', {}, 'Limits'), h('th', { class: 'num' }, 'Entry price'), h('th', {}, ''))),
    h('tbody', {}, rows.map((r) => r.tr)),
  );
  if (!owner) return plansPanel(intro, table, h('p', { class: 'muted small' }, `Only owners change the plans; your role is ${ctx.visibility.role}.`));

  const form = h('form', { class: 'plan-mapping' }, table, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save plans')), feedback);
  // Marked once edited, so a redraw of the page's other parts leaves the section alone.
  form.addEventListener('input', () => (form.dataset.edited = 'true'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(feedback);
    const sent = rows.map((r) => ({ name: r.name, o: r.override() })).filter((r): r is { name: string; o: Override | string } => r.o !== undefined);
    const wrong = sent.flatMap((r) => (typeof r.o === 'string' ? [r.o] : []));
    if (wrong.length) {
      mount(feedback, errorBox(new Error(wrong.join('; '))));
      return;
    }
    const products = sent.map((r) => r.o as Override);
    // The API names a problem by its place in the list (products.<i>.<field>): said here by the product's name.
    request<{ products: PlanView[] }>('PUT', `${ctx.apiBase}/product-mapping`, { products }).then(
      // The saved mapping is drawn in this section alone: the page's other parts keep what was typed in them.
      (saved) => panel.replaceWith(plansSection(ctx, saved.products, `Saved the plans: ${saved.products.filter((p) => p.source === 'override').length} changed, the others from Stripe.`)),
      (err: unknown) => {
        const message = err instanceof Error ? err.message.replace(/products\.(\d+)(\.\w+)?/g, (whole: string, i: string) => sent[Number(i)]?.name ?? whole) : String(err);
        mount(feedback, errorBox(new Error(message)));
      },
    );
  });
  const panel = plansPanel(intro, form);
  return panel;
}

/** The section, marked so the Stripe page can draw it again on its own. */
function plansPanel(...children: Node[]): HTMLElement {
  const panel = section('Plans', ...children);
  panel.classList.add('plans-section');
  return panel;
}
