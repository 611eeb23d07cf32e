import { get, post } from '../api';
import type { PageContext } from '../context';
import { h, mount, type Child } from '../dom';
import { factLabel, listedFact, scalar } from '../facts';
import { HIDDEN, money, NONE, when } from '../format';
import { canAct, isHidden } from '../redaction';
import { customerLink, errorBox, loading, statusBadge } from './common';
import { draftStepTitle } from '../../../domain/dunning-schedule';
import { isOpenDraft, SENDABLE_DRAFT_STATUSES, type DraftStatus } from '../../../domain/drafts';

interface Draft {
  id: string;
  play: string;
  step: string;
  status: string;
  customerId: string;
  subjectRef: string | null;
  to: string | null;
  subject: string;
  bodyHtml: string;
  bodyText: string;
  facts: Record<string, unknown>;
  scheduledFor: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** How a draft's sending stands (the send ledger): answered with a draft read alone. */
interface Sending {
  status: 'sending' | 'retry' | 'sent' | 'failed' | 'unconfirmed';
  attempts: number;
  error: string | null;
  heldForSender: boolean;
  senderRefusedAt: string | null;
  finishedAt: string | null;
}

/**
 * Why a draft that should have gone is still here: its provider refused the workspace's
 * sender (it waits for the Emails page's sender to be put right), or did not take it
 * at the last attempt (tried again). Nothing while nothing is amiss.
 */
function sendingNote(ctx: PageContext, draft: Draft, sending: Sending | null): HTMLElement | null {
  // Only a draft still to go can be held: a discarded or cancelled one waits for nothing.
  if (!sending || !SENDABLE_DRAFT_STATUSES.some((s) => s === draft.status)) return null;
  if (sending.heldForSender) {
    return h(
      'div',
      { class: 'error', role: 'status', 'data-testid': 'draft-held' },
      `Held: the email provider refused to send as this workspace's sender, last on ${when(sending.senderRefusedAt)}`,
      sending.error ? ` (${sending.error})` : '',
      '. It goes out once the sender is put right: see ',
      h('a', { href: `${ctx.pageBase}/emails` }, 'Emails'),
      '.',
    );
  }
  if (sending.status === 'retry') return h('p', { class: 'muted', 'data-testid': 'draft-retrying' }, `Not sent yet: the email provider did not take it at attempt ${sending.attempts}${sending.error ? ` (${sending.error})` : ''}; it is tried again.`);
  return null;
}

/** The statuses of domain/drafts.ts, in the order a reviewer cares about them. */
const STATUSES = ['drafted', 'approved', 'edited', 'scheduled', 'sent', 'discarded', 'cancelled', 'failed'];


export async function draftsPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const id = ctx.rest[1];
  if (id) return draftDetail(ctx, root, id);
  const status = ctx.query.get('status') ?? 'drafted';
  mount(root, loading());
  const filter = status === 'all' ? '' : `&status=${encodeURIComponent(status)}`;
  let drafts: Draft[];
  try {
    drafts = (await get<{ drafts: Draft[] }>(`${ctx.apiBase}/drafts?limit=200${filter}`)).drafts;
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Drafts'), h('p', { class: 'muted' }, 'Emails the plays wrote. In review mode nothing goes out until someone approves it.'))),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Status' },
      [...STATUSES, 'all'].map((s) => h('a', { href: `${ctx.pageBase}/drafts?status=${s}`, class: s === status ? 'active' : '' }, s === 'drafted' ? 'to review' : s)),
    ),
    drafts.length
      ? h(
          'table',
          { class: 'data drafts' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Subject'), h('th', {}, 'Customer'), h('th', {}, 'Play'), h('th', {}, 'Status'), h('th', {}, 'Created'))),
          h(
            'tbody',
            {},
            drafts.map((d) =>
              h(
                'tr',
                {},
                h('td', {}, h('a', { href: `${ctx.pageBase}/drafts/${encodeURIComponent(d.id)}`, class: 'strong' }, d.subject)),
                h('td', {}, customerLink(ctx, d.customerId, d.to ?? d.customerId), h('div', { class: 'muted small' }, d.customerId)),
                h('td', { class: 'nowrap' }, draftStepTitle(d.play, d.step)),
                h('td', {}, statusBadge(d.status)),
                h('td', { class: 'nowrap' }, when(d.createdAt)),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty-state' }, status === 'drafted' ? 'Nothing to review.' : `No ${status === 'all' ? '' : `${status} `}drafts.`),
  );
}

const isMoney = (v: unknown): v is { amount: number | null; currency: string } => typeof v === 'object' && v !== null && 'amount' in v && 'currency' in v && typeof (v as { currency: unknown }).currency === 'string';

/** The facts a draft cites, flattened to labelled rows; money formatted, hidden money says so. */
function factRows(ctx: PageContext, facts: unknown, prefix = ''): [string, string, boolean][] {
  if (facts === null || typeof facts !== 'object' || Array.isArray(facts)) return [[prefix, scalar(facts), false]];
  const rows: [string, string, boolean][] = [];
  for (const [key, value] of Object.entries(facts)) {
    const label = prefix ? `${prefix}.${key}` : key;
    if (isMoney(value)) {
      const hidden = value.amount === null;
      rows.push([label, hidden ? HIDDEN : money(value.amount, value.currency), hidden]);
    } else if (value === null) {
      const hidden = isHidden(ctx.visibility, key, false);
      rows.push([label, hidden ? HIDDEN : NONE, hidden]);
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      rows.push(...factRows(ctx, value, label));
    } else {
      rows.push([label, Array.isArray(value) ? listedFact(value) : scalar(value), false]);
    }
  }
  return rows;
}

/** A plain-text body as simple HTML paragraphs, for an edit made as text. */
export function textToHtml(text: string): string {
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return text
    .split(/\n{2,}/)
    .map((p) => `<p>${escape(p.trim()).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
}

async function draftDetail(ctx: PageContext, root: HTMLElement, id: string): Promise<void> {
  mount(root, loading());
  const path = `${ctx.apiBase}/drafts/${encodeURIComponent(id)}`;
  let draft: Draft;
  let sending: Sending | null;
  try {
    ({ draft, sending } = await get<{ draft: Draft; sending: Sending | null }>(path));
  } catch (err) {
    mount(root, h('p', {}, h('a', { href: `${ctx.pageBase}/drafts` }, '← Drafts')), errorBox(err));
    return;
  }
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  const mayAct = canAct(ctx.visibility.role);
  const open = isOpenDraft(draft.status as DraftStatus);

  const act = async (action: string, body: unknown, done: string) => {
    mount(feedback);
    try {
      await post(`${path}/${action}`, body);
      await draftDetail(ctx, root, id);
      const fb = root.querySelector('.feedback');
      if (fb) mount(fb, h('div', { class: 'success', role: 'status' }, done));
    } catch (err) {
      mount(feedback, errorBox(err));
    }
  };

  const editor = h('form', { class: 'editor', hidden: true });
  const subject = h('input', { name: 'subject', value: draft.subject, maxlength: 998, required: true });
  const text = h('textarea', { name: 'bodyText', rows: 14, required: true }, draft.bodyText);
  mount(
    editor,
    h('label', {}, 'Subject', subject),
    h('label', {}, 'Text body', text),
    h('p', { class: 'muted small' }, 'The HTML version is rebuilt from this text.', ctx.visibility.revenue ? '' : ' Amounts hidden from your role read "[amount hidden]": an edit cannot keep them.'),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Save edit'),
      h('button', { type: 'button', onclick: () => (editor.hidden = true) }, 'Cancel'),
    ),
  );
  editor.addEventListener('submit', (e) => {
    e.preventDefault();
    void act('edit', { subject: subject.value, bodyText: text.value, bodyHtml: textToHtml(text.value) }, 'Edit saved: it goes out as edited.');
  });

  const endSequence = h('input', { type: 'checkbox', name: 'endSequence' });
  const reason = h('input', { name: 'reason', placeholder: 'Reason (optional)', maxlength: 1000 });
  const discardForm = h(
    'form',
    { class: 'editor', hidden: true },
    h('label', {}, 'Why discard it?', reason),
    h('label', { class: 'check' }, endSequence, 'Also stop the rest of this sequence'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Discard draft'), h('button', { type: 'button', onclick: () => (discardForm.hidden = true) }, 'Cancel')),
  );
  discardForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void act('discard', { endSequence: endSequence.checked, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) }, 'Draft discarded.');
  });

  const actions: Child = mayAct
    ? open
      ? h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: () => void act('approve', {}, 'Approved: it goes out at its step time.') }, 'Approve'),
          h('button', { type: 'button', onclick: () => ((editor.hidden = false), (discardForm.hidden = true), subject.focus()) }, 'Edit'),
          h('button', { type: 'button', class: 'danger-outline', onclick: () => ((discardForm.hidden = false), (editor.hidden = true)) }, 'Discard'),
        )
      : h('p', { class: 'muted' }, `This draft is ${draft.status}; it can no longer change.`)
    : h('p', { class: 'muted' }, `Your role (${ctx.visibility.role}) can read drafts but not approve, edit or discard them.`);

  const facts = factRows(ctx, draft.facts);
  mount(
    root,
    h('p', {}, h('a', { href: `${ctx.pageBase}/drafts` }, '← Drafts')),
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { class: 'subject' }, draft.subject), h('p', { class: 'muted' }, statusBadge(draft.status), ` ${draftStepTitle(draft.play, draft.step)} · to ${draft.to ?? NONE} · version ${draft.version}`))),
    sendingNote(ctx, draft, sending),
    feedback,
    actions,
    editor,
    discardForm,
    h(
      'div',
      { class: 'split' },
      h('section', { class: 'panel' }, h('h2', {}, 'Email (text)'), h('pre', { class: 'body-text' }, draft.bodyText)),
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Facts it cites'),
        facts.length
          ? h('table', { class: 'facts' }, h('tbody', {}, facts.map(([k, val, hidden]) => h('tr', {}, h('th', { title: k }, factLabel(k)), h('td', { class: hidden ? 'hidden-figure' : '' }, val)))))
          : h('p', { class: 'muted' }, 'No facts.'),
        h('dl', { class: 'meta' }, h('dt', {}, 'Customer'), h('dd', {}, draft.customerId), h('dt', {}, 'About'), h('dd', {}, draft.subjectRef ?? NONE), h('dt', {}, 'Scheduled for'), h('dd', {}, when(draft.scheduledFor)), h('dt', {}, 'Updated'), h('dd', {}, when(draft.updatedAt))),
      ),
    ),
  );
}
