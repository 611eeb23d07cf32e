import { get, post } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { count, longMonth, money, NONE, when } from '../format';
import { canMarkPaid, isHidden } from '../redaction';
import { card, confirmStep, errorBox, loading, noticeIn, riskBadge, saveOffer, saveOutcome, section, statusBadge } from './common';
import { scheduledMovement } from '../movement-kinds';
import { movementCells } from '../movements';
import type { CustomerProfile } from '../../../domain/customer-profile';
import { draftStepTitle } from '../../../domain/dunning-schedule';
import { trendText } from '../../../domain/product-activity';
import type { ChurnRisk } from '../../../domain/churn-risk';
import { periodText } from '../../../domain/outreach-facts';

/** What the API sends: the profile with the amounts the caller may not see as null. */
type Shown = CustomerProfile;

/** "2 × Pro at $15.00 / month" for one subscription item; "12 × Team, $144.00 / month" for one priced by tiers. */
function itemText(item: Shown['subscriptions'][number]['items'][number], currency: string, hidden: boolean): string {
  const every = item.interval ? ` / ${periodText(item.interval, item.intervalCount ?? 1)}` : '';
  const named = `${item.quantity !== null && item.quantity !== 1 ? `${item.quantity} × ` : ''}${item.product ?? item.priceId}`;
  // No unit price (tiered): what its quantity costs a period, where that is known.
  if (!hidden && item.unitAmount === null && item.amount !== null) return `${named}, ${money(item.amount, currency)}${every}`;
  const price = item.unitAmount === null && !hidden ? '' : ` at ${money(item.unitAmount, currency, { hidden })}${every}`;
  return `${named}${price}`;
}

/** When a subscription renews, ends or ended. */
function termText(s: Shown['subscriptions'][number]): string {
  if (s.endedAt) return `ended ${when(s.endedAt)}`;
  if (!s.currentPeriodEnd) return NONE;
  return `${s.cancelAtPeriodEnd ? 'ends' : 'renews'} ${when(s.currentPeriodEnd)}`;
}

/**
 * Finance's way out of a dunning whose invoice was settled outside Stripe (a bank
 * transfer, a cheque): Stripe marks the invoice paid without charging, and the
 * dunning is told to stop. The only write Wysera makes to Stripe, so it asks first.
 */
function paidOutOfBand(ctx: PageContext, root: HTMLElement, customerId: string, invoiceId: string): HTMLElement {
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  const [ask, step] = confirmStep({
    label: 'Mark paid out of band',
    ariaLabel: `Mark ${invoiceId} paid out of band`,
    question: `Stripe marks ${invoiceId} paid without charging the customer, and its dunning stops.`,
    confirm: 'Mark it paid',
    className: 'paid-out-of-band',
    onConfirm: () =>
      post<{ invoice: { status: string }; dunningStopped: boolean }>(`${ctx.apiBase}/invoices/${encodeURIComponent(invoiceId)}/paid-out-of-band`).then(
        (done) => customerPage(ctx, root, customerId, `${invoiceId} is ${done.invoice.status} in Stripe; ${done.dunningStopped ? 'its dunning was told to stop' : 'no running dunning was found for it'}.`),
        (err: unknown) => mount(feedback, errorBox(err)),
      ),
  });
  return h('div', { class: 'out-of-band' }, ask, step, feedback);
}

/** Why the customer might leave: each reason with its points, which add up to the score (capped at 100). */
function riskSection(risk: ChurnRisk, signalled: boolean): HTMLElement {
  const sum = risk.reasons.reduce((total, r) => total + r.points, 0);
  return section(
    'Churn risk',
    h('p', {}, riskBadge(risk), sum > risk.score ? h('span', { class: 'muted small' }, ` The reasons add up to ${sum}; the score stops at 100.`) : null),
    risk.reasons.length
      ? h('ul', { class: 'risk-reasons' }, risk.reasons.map((r) => h('li', { 'data-reason': r.code }, h('span', { class: 'points' }, `+${r.points}`), ' ', r.text)))
      : h(
          'p',
          { class: 'muted' },
          `Nothing points to them leaving: no cancellation, no failing payment, no downgrade${signalled ? ', and their use holds' : '; your product sends no signals to judge their use by'}.`,
        ),
  );
}

/** The churn radar's saves for the customer, kept when they have left (a save that ended "left first" says so). */
function savesSection(saves: Shown['saves']): HTMLElement {
  return section(
    'Churn radar',
    h(
      'ul',
      { class: 'saves', 'data-testid': 'customer-saves' },
      saves.map((s) => h('li', {}, `${when(s.startedAt)}: ${s.risk ? `at a score of ${s.risk.score}, ` : ''}${s.intervention ? `offered ${saveOffer(s.intervention)}` : 'nothing drafted'}; ${saveOutcome(s.outcome)}.`)),
    ),
  );
}

/** The expansion play's pitches to the customer: why, the plan, how it ended. */
function pitchesSection(pitches: Shown['pitches']): HTMLElement {
  const why: Record<string, string> = { near_limit: 'near a usage limit', seats_added: 'seats added' };
  return section(
    'Expansion',
    h(
      'ul',
      { class: 'pitches', 'data-testid': 'customer-pitches' },
      pitches.map((p) => h('li', {}, `${when(p.startedAt)}: ${why[p.trigger] ?? p.trigger}, pitched ${p.plan}; ${saveOutcome(p.outcome)}.`)),
    ),
  );
}

/** The renewal play's notes to the customer: which renewal, what the note folded in, how it ended. */
function renewalNotesSection(notes: Shown['renewalNotes']): HTMLElement {
  const folds: Record<string, string> = { plain: 'a renewal note', save: 'a renewal note with a save offer', upgrade: 'a renewal note with an upgrade' };
  return section(
    'Renewals',
    h(
      'ul',
      { class: 'notes', 'data-testid': 'customer-renewal-notes' },
      notes.map((n) => h('li', {}, `Renewing ${when(n.renewsAt)}: ${n.fold ? (folds[n.fold] ?? n.fold) : 'nothing drafted'}; ${saveOutcome(n.outcome)}.`)),
    ),
  );
}

/** What the workspace's product says of the customer: usage by metric and logins over two windows, and support tickets. */
function activitySection(ctx: PageContext, a: Shown['activity'] | null): HTMLElement {
  // A workspace may hide the product's activity, or its usage, from a role: the API sends null.
  if (!a) return section('Product activity', h('p', { class: 'muted' }, 'Hidden for your role.'));
  if (!a.lastSignalAt) {
    return section(
      'Product activity',
      h('p', { class: 'muted' }, 'Your product has sent no usage, logins or tickets for this customer. Send them to ', h('code', {}, `POST ${ctx.apiBase}/signals`), ' and the plays cite them.'),
    );
  }
  const row = (what: string, last: number, previous: number) =>
    h('tr', {}, h('td', {}, what), h('td', { class: 'num' }, count(last)), h('td', { class: 'num' }, count(previous)), h('td', { class: 'num trend' }, trendText(last, previous)));
  const t = a.tickets;
  return section(
    'Product activity',
    h(
      'table',
      { class: 'data compact activity' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Signal'), h('th', { class: 'num' }, `Last ${a.windowDays} days`), h('th', { class: 'num' }, `${a.windowDays} days before`), h('th', { class: 'num' }, 'Change'))),
      h('tbody', {}, ...(a.usage ?? []).map((u) => row(u.label, u.last, u.previous)), row('logins', a.logins.last, a.logins.previous)),
    ),
    h(
      'p',
      { class: 'muted small' },
      [
        a.logins.lastAt ? `Last login ${when(a.logins.lastAt)}.` : 'No login reported.',
        t.lastAt ? `Support: ${t.open} ${t.open === 1 ? 'ticket' : 'tickets'} open, ${t.openedLast} opened in the last ${a.windowDays} days.` : 'No support tickets reported.',
        `Latest signal ${when(a.lastSignalAt)}.`,
      ].join(' '),
    ),
    a.limits?.usage
      ? h(
          'div',
          { class: 'plan-limits', 'data-testid': 'plan-limits' },
          h('h3', {}, a.limits.plan ? `Against the ${a.limits.plan} plan's limits` : "Against their plan's limits"),
          h(
            'ul',
            {},
            a.limits.usage.map((u) =>
              // Floored, so a share just under the mark does not read as 80% without "near".
              h('li', { class: u.near ? 'near-limit' : null }, `${u.label}: ${count(u.used)} of ${count(u.included)} a month (${Math.floor(u.share * 100)}%)`, u.near ? h('strong', {}, u.past ? ' past the limit' : ' near the limit') : null),
            ),
          ),
        )
      : null,
  );
}

/**
 * One customer (`/w/<ws>/customers/<id>`, pages/customers.ts routes here): who they
 * are, what they pay and how it moved, their subscriptions as Stripe has them, their
 * dunnings and the emails the plays wrote them, each draft a link to its page.
 * Reached from the customer list, the dashboard's movers and the drafts.
 */
export async function customerPage(ctx: PageContext, root: HTMLElement, customerId: string, notice?: string): Promise<void> {
  mount(root, loading());
  let c: Shown;
  try {
    c = await get<Shown>(`${ctx.apiBase}/customers/${encodeURIComponent(customerId)}`);
  } catch (err) {
    mount(root, h('h1', {}, customerId), errorBox(err));
    return;
  }
  const v = ctx.visibility;
  const cur = c.reportingCurrency ?? 'usd';
  const title = c.name ?? c.email ?? c.customerId;
  const subtitle = [c.name !== null ? c.email : null, title === c.customerId ? null : c.customerId, c.cohortMonth ? `paying since ${longMonth(c.cohortMonth)}` : null].filter((p) => p !== null).join(' · ');
  document.title = document.title.replace(/^Customers · /, `${title} · `);
  // A done action's notice, focused once the page is drawn so it is read out.
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  noticeIn(feedback, notice);
  const active = c.subscriptions.filter((s) => !s.endedAt && s.status !== 'canceled' && s.status !== 'incomplete_expired');

  mount(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('div', {}, h('h1', { class: 'customer-name' }, title), h('p', { class: 'muted' }, subtitle)),
      c.livemode === null
        ? null
        : h('a', { class: 'stripe-link', href: `https://dashboard.stripe.com/${c.livemode ? '' : 'test/'}customers/${encodeURIComponent(c.customerId)}`, target: '_blank', rel: 'noopener noreferrer' }, 'Open in Stripe ↗'),
    ),
    c.mirrored ? null : h('p', { class: 'muted small' }, 'Stripe’s copy of this customer is not mirrored yet; a sync brings their name and subscriptions.'),
    feedback,
    h(
      'div',
      { class: 'kpis' },
      card('MRR', money(c.mrr, cur, { hidden: isHidden(v, 'mrr', true) }), { hidden: isHidden(v, 'mrr', true), testid: 'customer-mrr', sub: scheduledMovement(c.movements) }),
      card('Subscriptions', String(active.length), { sub: `${c.subscriptions.length - active.length} ended` }),
      card('Dunnings', String(c.dunnings.length), { sub: `${c.dunnings.filter((d) => d.outcome === null).length} running` }),
      card('Churn risk', c.risk ? `${c.risk.score}` : NONE, { sub: c.risk ? `out of 100: ${c.risk.level}` : 'no live subscription', testid: 'customer-risk' }),
    ),
    c.risk ? riskSection(c.risk, (c.activity?.lastSignalAt ?? null) !== null) : null,
    c.saves.length ? savesSection(c.saves) : null,
    c.pitches.length ? pitchesSection(c.pitches) : null,
    c.renewalNotes.length ? renewalNotesSection(c.renewalNotes) : null,
    section(
      'Subscriptions',
      c.subscriptions.length
        ? h(
            'table',
            { class: 'data compact subscriptions' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Subscription'), h('th', {}, 'Status'), h('th', {}, 'Items'), h('th', {}, 'Started'), h('th', {}, 'Term'))),
            h(
              'tbody',
              {},
              c.subscriptions.map((s) =>
                h(
                  'tr',
                  { 'data-subscription': s.id },
                  h('td', {}, h('code', {}, s.id)),
                  h('td', {}, statusBadge(s.status)),
                  h('td', {}, s.items.length ? s.items.map((i) => h('div', {}, itemText(i, s.currency, isHidden(v, 'unitAmount', true)))) : NONE),
                  h('td', { class: 'nowrap' }, when(s.startDate)),
                  h('td', { class: 'nowrap' }, termText(s)),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No subscriptions mirrored.'),
    ),
    activitySection(ctx, c.activity),
    section(
      'MRR history',
      c.movements.length
        ? h(
            'table',
            { class: 'data compact movements-history' },
            h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Movement'), h('th', { class: 'num' }, 'Change'), h('th', { class: 'num' }, 'MRR after'))),
            h(
              'tbody',
              {},
              [...c.movements].reverse().map((m) =>
                h(
                  'tr',
                  {},
                  h('td', { class: 'nowrap' }, when(m.at)),
                  ...movementCells(m, cur, v),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No MRR movements: the customer has not paid for a subscription yet.'),
    ),
    section(
      'Invoices',
      c.invoices.length
        ? h(
            'table',
            { class: 'data compact invoices' },
            h(
              'thead',
              {},
              h('tr', {}, h('th', {}, 'Invoice'), h('th', {}, 'Created'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Amount due'), h('th', { class: 'num' }, 'Paid'), h('th', { class: 'num' }, 'Remaining'), h('th', {}, 'Next attempt')),
            ),
            h(
              'tbody',
              {},
              c.invoices.map((i) =>
                h(
                  'tr',
                  { 'data-invoice': i.id },
                  h('td', {}, i.hostedInvoiceUrl ? h('a', { href: i.hostedInvoiceUrl, target: '_blank', rel: 'noopener noreferrer', title: 'The invoice as the customer sees it' }, h('code', {}, i.id)) : h('code', {}, i.id)),
                  h('td', { class: 'nowrap' }, when(i.created)),
                  h('td', {}, i.status ? statusBadge(i.status) : NONE),
                  h('td', { class: 'num' }, money(i.amountDue, i.currency, { hidden: isHidden(v, 'amountDue', true) })),
                  h('td', { class: 'num' }, money(i.amountPaid, i.currency, { hidden: isHidden(v, 'amountPaid', true) })),
                  h('td', { class: 'num' }, money(i.amountRemaining, i.currency, { hidden: isHidden(v, 'amountRemaining', true) })),
                  h('td', { class: 'nowrap' }, i.nextPaymentAttempt ? `${when(i.nextPaymentAttempt)} (try ${i.attemptCount + 1})` : NONE),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No invoices mirrored.'),
    ),
    section(
      'Dunning',
      c.dunnings.length
        ? h(
            'table',
            { class: 'data compact dunnings' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Invoice'), h('th', {}, 'Payment failed'), h('th', { class: 'num' }, 'Amount due'), h('th', {}, 'Outcome'), h('th', { class: 'num' }, 'Emails sent'))),
            h(
              'tbody',
              {},
              c.dunnings.map((d) =>
                h(
                  'tr',
                  { 'data-invoice': d.invoiceId },
                  h('td', {}, h('code', {}, d.invoiceId)),
                  h('td', { class: 'nowrap' }, when(d.failedAt)),
                  h('td', { class: 'num' }, money(d.amountDue, d.currency, { hidden: isHidden(v, 'amountDue', true) })),
                  h('td', {}, d.outcome === null ? ['running', canMarkPaid(v.role) ? paidOutOfBand(ctx, root, c.customerId, d.invoiceId) : null] : `${d.outcome.replaceAll('_', ' ')}${d.endedAt ? ` ${when(d.endedAt)}` : ''}`),
                  h('td', { class: 'num' }, String(d.emailsSent)),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No failed payments.'),
    ),
    section(
      'Emails',
      c.drafts.length
        ? h(
            'table',
            { class: 'data compact customer-drafts' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Email'), h('th', {}, 'Status'), h('th', {}, 'Written'))),
            h(
              'tbody',
              {},
              c.drafts.map((d) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('a', { href: `${ctx.pageBase}/drafts/${encodeURIComponent(d.id)}` }, draftStepTitle(d.play, d.step))),
                  h('td', {}, statusBadge(d.status)),
                  h('td', { class: 'nowrap' }, when(d.createdAt)),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No emails written to this customer.'),
    ),
  );
}
