import { get } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { count, longMonth, money, NONE, percent, when } from '../format';
import { isHidden } from '../redaction';
import { customerCell, errorBox, loading, riskBadge } from './common';
import type { RiskLevel } from '../../../domain/churn-risk';
import type { BacktestReport, LevelReport } from '../../../domain/churn-backtest';
import { customerPage } from './customer';

interface Listing {
  customerId: string;
  name: string | null;
  email: string | null;
  mrr: number | null;
  currency: string | null;
  cohortMonth: string | null;
  created: string | null;
  risk: { score: number; level: RiskLevel } | null;
}
interface Page {
  sort: Sort;
  limit: number;
  offset: number;
  total: number;
  customers: Listing[];
}

const PAGE = 50;
type Sort = 'mrr' | 'newest' | 'risk';

const ORDERS: Record<Sort, string> = { mrr: 'Biggest payers first', newest: 'Newest first', risk: 'The likeliest to leave first' };
const SORT_LABELS: Record<Sort, string> = { mrr: 'By MRR', newest: 'Newest', risk: 'Most at risk' };

/** One level's record in the backtest, as sentences. */
function levelLines(r: LevelReport, horizonDays: number): HTMLElement {
  const who = r.level === 'high' ? 'Flagged high' : r.level === 'medium' ? 'Flagged medium or high' : `At the churn radar's threshold (a score of ${r.minScore} or more)`;
  return h(
    'li',
    { 'data-level': r.level },
    h('strong', {}, `${who}: `),
    r.flagged
      ? `${percent(r.precision)} of the checks that flagged a customer were followed by their churn within ${horizonDays} days (${count(r.caught)} of ${count(r.flagged)}). `
      : 'no check flagged anyone. ',
    r.churned ? `Of the checks followed by a churn, ${percent(r.recall)} had flagged it (${count(r.caught)} of ${count(r.churned)}). ` : 'No churn followed a check. ',
    r.churnsWithCheckpoint
      ? `${count(r.churnsSeenComing)} of ${count(r.churnsWithCheckpoint)} churns were seen coming${r.medianLeadDays === null ? '' : `, a median ${count(r.medianLeadDays)} days ahead`}.`
      : '',
  );
}

/** How the risk score would have called this workspace's churns: loaded when opened, since it scores many past weeks. */
function backtestPanel(ctx: PageContext): HTMLElement {
  // Announced when it arrives: the scoring of past weeks takes a moment.
  const body = h('div', { class: 'backtest-body', 'aria-live': 'polite' }, loading());
  const panel = h('details', { class: 'panel backtest' }, h('summary', {}, 'How well would the risk score have called churn here?'), body);
  let loaded = false;
  panel.addEventListener('toggle', () => {
    if (!(panel).open || loaded) return;
    loaded = true;
    get<BacktestReport & { days: number; stepDays: number; customers: number; sampled: number }>(`${ctx.apiBase}/churn-risk/backtest`).then(
      (r) =>
        mount(
          body,
          h(
            'p',
            { class: 'muted small' },
            `Scored as of a check every ${r.stepDays} days over the last ${r.days} days, from what had happened by then, against who churned (MRR to zero) within ${r.horizonDays} days after; checks of the last ${r.horizonDays} days count only for how early.`,
            r.sampled < r.customers ? ` On a sample of ${count(r.sampled)} of the ${count(r.customers)} customers.` : '',
          ),
          h('ul', { class: 'backtest-levels' }, r.levels.map((l) => levelLines(l, r.horizonDays))),
        ),
      (err: unknown) => {
        // Closing and opening again asks again.
        loaded = false;
        mount(body, errorBox(err));
      },
    );
  });
  return panel;
}

/**
 * The customers (`/w/<ws>/customers?q=&sort=&offset=`): the biggest payers first (the
 * newest first for a role that does not see MRR) or the likeliest to leave first,
 * with each one's churn risk, found by a piece of the name, the email or the start of a Stripe id, 50 a page; `/w/<ws>/customers/<id>` is one customer (pages/customer.ts).
 */
export async function customersPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  if (ctx.rest[1]) return customerPage(ctx, root, ctx.rest[1]);
  const q = ctx.query.get('q') ?? '';
  const mrrHidden = isHidden(ctx.visibility, 'mrr', true);
  // The order by MRR would tell a role that does not see MRR what is hidden: theirs is the newest first.
  const usual: Sort = mrrHidden ? 'newest' : 'mrr';
  const wanted = ctx.query.get('sort');
  const sort: Sort = wanted === 'risk' || (wanted === 'newest' && !mrrHidden) ? wanted : usual;
  const offset = /^\d+$/.test(ctx.query.get('offset') ?? '') ? Number(ctx.query.get('offset')) : 0;
  const link = (p: { q?: string; sort?: string; offset?: number }) => {
    const params = new URLSearchParams();
    const next = { q, sort, offset: 0, ...p };
    if (next.q) params.set('q', next.q);
    if (next.sort !== usual) params.set('sort', next.sort);
    if (next.offset) params.set('offset', String(next.offset));
    const query = params.toString();
    return `${ctx.pageBase}/customers${query ? `?${query}` : ''}`;
  };

  const input = h('input', { type: 'search', name: 'q', value: q, placeholder: 'Acme, billing@acme.com or cus_…' });
  const search = h('form', { class: 'range customer-search', role: 'search' }, h('label', {}, 'Find by name, email or Stripe id', input), h('button', { type: 'submit' }, 'Find'));
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(link({ q: input.value.trim() }));
  });
  const head = h(
    'div',
    { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Customers'), h('p', { class: 'muted' }, `${ORDERS[sort]}${mrrHidden ? '; MRR is hidden for your role.' : '.'}`)),
    search,
  );
  mount(root, head, loading());
  let page: Page;
  try {
    const params = new URLSearchParams({ sort, limit: String(PAGE), offset: String(offset), ...(q ? { q } : {}) });
    page = await get<Page>(`${ctx.apiBase}/customers?${params.toString()}`);
  } catch (err) {
    mount(root, head, errorBox(err));
    return;
  }
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.customers.length;
  mount(
    root,
    head,
    h(
      'div',
      { class: 'segmented', role: 'group', 'aria-label': 'Order' },
      ...(mrrHidden ? (['newest', 'risk'] as const) : (['mrr', 'newest', 'risk'] as const)).map((o) =>
        h('a', { href: link({ sort: o }), class: sort === o ? 'active' : '', 'aria-current': sort === o ? 'true' : null }, SORT_LABELS[o]),
      ),
    ),
    page.customers.length
      ? h(
          'table',
          { class: 'data customers' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Customer'), h('th', { class: 'num' }, 'MRR'), h('th', {}, 'Churn risk'), h('th', {}, 'Paying since'), h('th', {}, 'Customer since'))),
          h(
            'tbody',
            {},
            page.customers.map((c) =>
              h(
                'tr',
                { 'data-customer': c.customerId },
                h('td', {}, customerCell(ctx, c)),
                h('td', { class: 'num' }, c.currency === null && !mrrHidden ? NONE : money(c.mrr, c.currency ?? 'usd', { hidden: mrrHidden })),
                h('td', {}, c.risk ? riskBadge(c.risk) : NONE),
                h('td', {}, c.cohortMonth ? longMonth(c.cohortMonth) : NONE),
                h('td', { class: 'nowrap' }, when(c.created)),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty-state' }, page.total > 0 ? h('a', { href: link({}) }, `Past the last of ${count(page.total)} customers: back to the first page`) : q ? `No customer matches ${q}.` : 'No customers mirrored yet: connect Stripe and sync.'),
    h(
      'p',
      { class: 'actions pager' },
      page.customers.length ? h('span', { class: 'muted customers-count' }, `${count(first)}–${count(last)} of ${count(page.total)}`) : null,
      page.offset > 0 ? h('a', { href: link({ offset: Math.max(0, page.offset - PAGE) }) }, '← Previous') : null,
      last < page.total ? h('a', { href: link({ offset: last }) }, 'Next →') : null,
    ),
    sort === 'risk' ? backtestPanel(ctx) : null,
  );
}
