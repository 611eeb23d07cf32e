import { get } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { when } from '../format';
import { canAudit } from '../redaction';
import { actorLabel, errorBox, loading } from './common';

interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
}

const json = (v: unknown) => (v === null || v === undefined ? '' : JSON.stringify(v, null, 2));

export async function auditPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  if (!canAudit(ctx.visibility.role)) {
    mount(root, h('h1', {}, 'Audit log'), h('p', { class: 'empty-state' }, `The audit log is for finance and owners; your role is ${ctx.visibility.role}.`));
    return;
  }
  const action = ctx.query.get('action') ?? '';
  const beforeId = /^\d+$/.test(ctx.query.get('beforeId') ?? '') ? ctx.query.get('beforeId') : null;
  const PAGE = 200;
  mount(root, loading());
  let entries: AuditRecord[];
  let actors: Record<string, string>;
  try {
    ({ entries, actors = {} } = await get<{ entries: AuditRecord[]; actors?: Record<string, string> }>(`${ctx.apiBase}/audit?limit=${PAGE}${action ? `&action=${encodeURIComponent(action)}` : ''}${beforeId ? `&beforeId=${beforeId}` : ''}`));
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const input = h('input', { name: 'action', value: action, placeholder: 'e.g. draft.approved' });
  const filter = h('form', { class: 'range' }, h('label', {}, 'Action', input), h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(`${ctx.pageBase}/audit${input.value.trim() ? `?action=${encodeURIComponent(input.value.trim())}` : ''}`);
  });
  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Audit log'), h('p', { class: 'muted' }, 'Every change, who made it, and what it was before and after. Append-only and hash-chained.')), filter),
    entries.length
      ? h(
          'table',
          { class: 'data audit' },
          h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Who'), h('th', {}, 'Action'), h('th', {}, 'Target'), h('th', {}, 'Change'))),
          h(
            'tbody',
            {},
            entries.map((e) =>
              h(
                'tr',
                {},
                h('td', { class: 'nowrap' }, when(e.at)),
                h('td', { class: 'actor', title: e.actor }, e.actor === `user:${ctx.session.user.id}` ? `you (${ctx.session.user.email})` : actorLabel(ctx, e.actor, Object.hasOwn(actors, e.actor) ? actors[e.actor] : undefined)),
                h('td', {}, h('code', {}, e.action)),
                h('td', {}, e.targetType, e.targetId ? h('div', { class: 'muted small' }, e.targetId) : null),
                h(
                  'td',
                  {},
                  e.before === null && e.after === null
                    ? ''
                    : h('details', {}, h('summary', {}, 'before / after'), h('div', { class: 'diff' }, h('pre', {}, json(e.before)), h('pre', {}, json(e.after)))),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty-state' }, 'No entries.'),
    // Newest first, a page at a time: the next page starts below the last id shown.
    entries.length === PAGE
      ? h('p', { class: 'actions' }, h('a', { href: `${ctx.pageBase}/audit?${new URLSearchParams({ ...(action ? { action } : {}), beforeId: String(entries[entries.length - 1]!.id) }).toString()}` }, 'Older entries →'))
      : null,
  );
}
