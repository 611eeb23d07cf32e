import { get } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { count, longMonth, money, NONE, when } from '../format';
import { isHidden } from '../redaction';
import { customerCell, errorBox, loading } from './common';
import { customerPage } from './customer';

interface Listing {
  customerId: string;
  name: string | null;
  email: string | null;
  mrr: number | null;
  currency: string | null;
  cohortMonth: string | null;
  created: string | null;
}
interface Page {
  sort: 'mrr' | 'newest';
  limit: number;
  offset: number;
  total: number;
  customers: Listing[];
}

const PAGE = 50;

/**
 * The customers (`/w/<ws>/customers?q=&sort=&offset=`): the biggest payers first (the
 * newest first for a role that does not see MRR), found by email or the start of a
 * Stripe id, 50 a page; `/w/<ws>/customers/<id>` is one customer (pages/customer.ts).
 */
export async function customersPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  if (ctx.rest[1]) return customerPage(ctx, root, ctx.rest[1]);
  const q = ctx.query.get('q') ?? '';
  const mrrHidden = isHidden(ctx.visibility, 'mrr', true);
  const sort = mrrHidden ? 'newest' : ctx.query.get('sort') === 'newest' ? 'newest' : 'mrr';
  const offset = /^\d+$/.test(ctx.query.get('offset') ?? '') ? Number(ctx.query.get('offset')) : 0;
  const link = (p: { q?: string; sort?: string; offset?: number }) => {
    const params = new URLSearchParams();
    const next = { q, sort, offset: 0, ...p };
    if (next.q) params.set('q', next.q);
    if (!mrrHidden && next.sort !== 'mrr') params.set('sort', next.sort);
    if (next.offset) params.set('offset', String(next.offset));
    const query = params.toString();
    return `${ctx.pageBase}/customers${query ? `?${query}` : ''}`;
  };

  const input = h('input', { type: 'search', name: 'q', value: q, placeholder: 'billing@acme.com or cus_…' });
  const search = h('form', { class: 'range customer-search', role: 'search' }, h('label', {}, 'Find by email or Stripe id', input), h('button', { type: 'submit' }, 'Find'));
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(link({ q: input.value.trim() }));
  });
  const head = h(
    'div',
    { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Customers'), h('p', { class: 'muted' }, mrrHidden ? 'Newest first; MRR is hidden for your role.' : sort === 'mrr' ? 'Biggest payers first.' : 'Newest first.')),
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
    mrrHidden
      ? null
      : h(
          'div',
          { class: 'segmented', role: 'group', 'aria-label': 'Order' },
          h('a', { href: link({ sort: 'mrr' }), class: sort === 'mrr' ? 'active' : '', 'aria-current': sort === 'mrr' ? 'true' : null }, 'By MRR'),
          h('a', { href: link({ sort: 'newest' }), class: sort === 'newest' ? 'active' : '', 'aria-current': sort === 'newest' ? 'true' : null }, 'Newest'),
        ),
    page.customers.length
      ? h(
          'table',
          { class: 'data customers' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Customer'), h('th', { class: 'num' }, 'MRR'), h('th', {}, 'Paying since'), h('th', {}, 'Customer since'))),
          h(
            'tbody',
            {},
            page.customers.map((c) =>
              h(
                'tr',
                { 'data-customer': c.customerId },
                h('td', {}, customerCell(ctx, c)),
                h('td', { class: 'num' }, c.currency === null && !mrrHidden ? NONE : money(c.mrr, c.currency ?? 'usd', { hidden: mrrHidden })),
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
  );
}
