import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { secondsInWords, when } from '../format';
import { canConfigure } from '../redaction';
import { actorLabel, errorBox, loading, metaRow } from './common';

interface FailingEvent {
  seq: number;
  eventId: string;
  type: string;
  customerId: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string;
  receivedAt: string;
}

/** The API's answer to an action on a failing event (only what the page reads of it). */
interface ActedOn {
  event: { rereadEventId?: string | null };
}

interface FailingPage {
  events: FailingEvent[];
  /** Where the next page starts; null on the last. */
  nextAfterSeq: number | null;
  /** The workspace's failing events, on every page. */
  total: number;
}

/** The endpoint at a glance (GET .../webhook-events/summary; only what the page reads of it). */
interface EndpointSummary {
  endpointPath: string;
  eventTypes: string[];
  mirrors: { stripeAccountId: string | null; livemode: boolean } | null;
  lastReceivedAt: string | null;
  received: { type: string; count: number; setAside: number }[];
  apiVersions: { apiVersion: string | null; events: number }[];
  /** Every kept event set aside as another account's or mode's, whenever it arrived. */
  setAsideKept: number;
  pending: number;
  oldestPendingSeconds: number;
  warnings: { code: string; message: string }[];
  /** When the signing secret was last replaced, and by whom (null: as set when the workspace was created). */
  signingSecret: { replacedAt: string | null; replacedBy: string | null; replacedByName: string | null };
}

/**
 * The endpoint's section: the URL and event types to set in Stripe, what arrived in the
 * last day, the API versions Stripe sends in, the backlog, and what to fix first.
 */
function endpointSection(ctx: PageContext, summary: EndpointSummary, secretForm: HTMLElement, reapplyForm: HTMLElement): HTMLElement {
  const received = summary.received.length
    ? h('ul', { class: 'plain' }, summary.received.map((t) => h('li', {}, `${t.count} `, h('code', {}, t.type), t.setAside ? ` (${t.setAside} set aside)` : '')))
    : 'none';
  const versions = summary.apiVersions.map((v) => `${v.apiVersion ?? 'unknown'} (${v.events})`).join(', ') || 'no events yet';
  const checked = summary.mirrors
    ? `${summary.mirrors.livemode ? 'live' : 'test'}-mode events of ${summary.mirrors.stripeAccountId ?? "the key's own account"}; others are set aside`
    : 'not checked: the workspace has no Stripe key to say its account and mode';
  return h(
    'section',
    { class: 'panel endpoint-summary' },
    h('h2', {}, 'Endpoint'),
    summary.warnings.map((w) => h('div', { class: 'error endpoint-warning', 'data-code': w.code }, w.message)),
    h(
      'dl',
      { class: 'meta' },
      metaRow('URL to set in Stripe', h('code', {}, `${window.location.origin}${summary.endpointPath}`)),
      metaRow('Events to send', ...summary.eventTypes.flatMap((t, i) => [i ? ', ' : '', h('code', {}, t)])),
      metaRow(
        'Signing secret',
        summary.signingSecret.replacedAt
          ? `replaced ${when(summary.signingSecret.replacedAt)} by ${summary.signingSecret.replacedBy ? actorLabel(ctx, summary.signingSecret.replacedBy, summary.signingSecret.replacedByName) : 'someone'}`
          : 'as set when the workspace was created',
        secretForm,
      ),
      metaRow('Events applied', checked),
      summary.setAsideKept
        ? metaRow(
            'Set aside (kept)',
            `${summary.setAsideKept} of another account or mode`,
            // Without a key there is no account or mode to tell them apart by: the API refuses, so the page says what comes first.
            summary.mirrors
              ? reapplyForm
              : h('p', { class: 'muted small reapply-needs-key' }, 'To apply those that are this workspace\'s, first connect the Stripe key of the account they belong to (Stripe page): without one, another account\'s events would pass as its own.'),
          )
        : [],
      metaRow('Last event', summary.lastReceivedAt ? when(summary.lastReceivedAt) : 'none on record'),
      metaRow('Last 24 hours', received),
      metaRow('Waiting', summary.pending ? `${summary.pending}, the oldest for ${secondsInWords(summary.oldestPendingSeconds)}` : 'none'),
      metaRow('Stripe API versions (latest events)', versions),
    ),
  );
}

/** Events shown at first and added by each "Show more". */
const PAGE_SIZE = 100;
/** The most the API answers at once: after an action, the list comes back as long as it was, up to this. */
const MAX_PAGE = 500;

/**
 * Stripe events Wysera cannot deliver (GET .../webhook-events/failing): each holds back
 * its customer's later events. An owner reads the error, may have it tried again at
 * once (its cause fixed), or give up on it with a reason that goes to the audit log.
 */
export async function webhooksPage(ctx: PageContext, root: HTMLElement, notice?: string, showing = PAGE_SIZE, noticeAt: 'events' | 'secret' = 'events'): Promise<void> {
  if (!canConfigure(ctx.visibility.role)) {
    mount(root, h('h1', {}, 'Webhooks'), h('p', { class: 'empty-state' }, `Only owners see the webhook events Wysera cannot deliver; your role is ${ctx.visibility.role}.`));
    return;
  }
  mount(root, loading());
  /** `limit` failing events, oldest first, after `afterSeq`. */
  const fetchPage = (limit: number, afterSeq: number | null) =>
    get<FailingPage>(`${ctx.apiBase}/webhook-events/failing?limit=${limit}${afterSeq === null ? '' : `&afterSeq=${afterSeq}`}`);
  // The endpoint's summary is read beside the list; the list, which owners act on, shows without it.
  /** Whether the endpoint section, where a notice about the secret goes, could be drawn. */
  let summaryShown = false;
  const summaryRead = get<EndpointSummary>(`${ctx.apiBase}/webhook-events/summary`).then(
    (summary) => ((summaryShown = true), endpointSection(ctx, summary, secretForm(), reapplyForm())),
    (err: unknown) => h('section', { class: 'panel endpoint-summary' }, h('h2', {}, 'Endpoint'), errorBox(err)),
  );
  let first: FailingPage;
  try {
    first = await fetchPage(Math.min(Math.max(showing, PAGE_SIZE), MAX_PAGE), null);
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const endpoint = await summaryRead;
  /** Where the next page starts (null: none follows), and the rows shown so far. */
  let next = first.nextAfterSeq;
  let shown = first.events.length;
  // A notice about the secret goes above the list when the endpoint section could not be drawn.
  const noticeBox = notice && (noticeAt === 'events' || !summaryShown) ? h('div', { class: 'success', role: 'status', tabindex: -1 }, notice) : null;
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' }, noticeBox);

  /**
   * Posts an owner's action on an event (one request per click: a second would only be
   * refused, the event no longer failing), then shows the list again with `done`.
   */
  const act = (button: HTMLButtonElement, e: FailingEvent, action: 'retry' | 'ignore', body: unknown, done: (answer: ActedOn) => string) => {
    button.disabled = true;
    mount(feedback);
    request<ActedOn>('POST', `${ctx.apiBase}/webhook-events/${encodeURIComponent(e.eventId)}/${action}`, body).then(
      // As many as were shown (up to MAX_PAGE), so an event reached through Show more stays in view.
      (answer) => webhooksPage(ctx, root, done(answer), shown),
      (err: unknown) => {
        button.disabled = false;
        mount(feedback, errorBox(err));
      },
    );
  };

  /**
   * Replaces the signing secret (PUT .../webhook-secret). It is never shown back, so the
   * field starts empty; Stripe signs with both while it rolls a secret, so nothing is
   * refused between rolling it there and pasting it here.
   */
  function secretForm(): HTMLElement {
    const input = h('input', {
      name: 'webhookSecret',
      type: 'password',
      autocomplete: 'new-password',
      'aria-label': 'New signing secret',
      required: true,
      pattern: '\\s*whsec_[A-Za-z0-9]+\\s*',
      placeholder: 'whsec_…',
      title: "The endpoint's signing secret from Stripe (Developers → Webhooks → the endpoint → Signing secret)",
    });
    const button = h('button', { type: 'submit' }, 'Replace');
    const done = notice && noticeAt === 'secret' ? h('div', { class: 'success', role: 'status', tabindex: -1 }, notice) : null;
    const answer = h('div', { class: 'feedback secret-feedback', 'aria-live': 'polite' }, done);
    // A wrong secret refuses every delivery until it is mended (Stripe retries them for
    // three days), so the replacement is confirmed first.
    const replace = h('button', { type: 'button', class: 'danger' }, 'Replace secret');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const confirm = h(
      'span',
      { class: 'confirm', hidden: true },
      'From now on, deliveries signed only with the old secret are refused. Replace it? ',
      replace,
      cancel,
    );
    const asking = (yes: boolean) => {
      confirm.hidden = !yes;
      button.hidden = yes;
      input.readOnly = yes;
    };
    const form = h('form', { class: 'range signing-secret' }, input, button, confirm);
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      mount(answer);
      asking(true);
      replace.focus();
    });
    cancel.addEventListener('click', () => {
      asking(false);
      input.focus();
    });
    replace.addEventListener('click', () => {
      replace.disabled = true;
      cancel.disabled = true;
      request<unknown>('PUT', `${ctx.apiBase}/webhook-secret`, { webhookSecret: input.value.trim() }).then(
        () =>
          webhooksPage(
            ctx,
            root,
            'Signing secret replaced: deliveries signed with it are accepted from now on. Rolling it in Stripe? Stripe signs with both secrets until the old one expires, so let that be after this.',
            shown,
            'secret',
          ),
        (err: unknown) => {
          replace.disabled = false;
          cancel.disabled = false;
          asking(false);
          mount(answer, errorBox(err));
          input.focus();
        },
      );
    });
    return h('div', {}, form, answer);
  }

  /**
   * Has the set-aside events that are now the workspace's own applied (POST
   * .../set-aside/reapply), once its key is the account's or mode's its endpoint sends.
   * They are applied as if just delivered, failed payments starting dunning, so it asks first.
   */
  function reapplyForm(): HTMLElement {
    const start = h('button', { type: 'button', class: 'reapply' }, "Apply those that are now this workspace's");
    const go = h('button', { type: 'button', class: 'danger' }, 'Apply them');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const confirm = h(
      'span',
      { class: 'confirm', hidden: true },
      'Events of the account and mode this workspace now mirrors are applied as if just delivered: a failed payment among them starts its dunning, at the step it would be at by now. Apply them? ',
      go,
      cancel,
    );
    const answer = h('div', { class: 'feedback reapply-feedback', 'aria-live': 'polite' });
    const asking = (yes: boolean) => {
      confirm.hidden = !yes;
      start.hidden = yes;
    };
    start.addEventListener('click', () => {
      mount(answer);
      asking(true);
      go.focus();
    });
    cancel.addEventListener('click', () => {
      asking(false);
      start.focus();
    });
    go.addEventListener('click', () => {
      go.disabled = true;
      cancel.disabled = true;
      request<{ requeued: number; stillSetAside: number }>('POST', `${ctx.apiBase}/webhook-events/set-aside/reapply`).then(
        ({ requeued, stillSetAside }) =>
          webhooksPage(
            ctx,
            root,
            requeued
              ? `${requeued} set-aside ${requeued === 1 ? 'event is' : 'events are'} being applied now; ${stillSetAside} of another account or mode stay set aside.`
              : `None of the ${stillSetAside} set-aside events is of the account and mode this workspace mirrors: they stay set aside.`,
            shown,
          ),
        (err: unknown) => {
          go.disabled = false;
          cancel.disabled = false;
          asking(false);
          mount(answer, errorBox(err));
          start.focus();
        },
      );
    });
    return h('div', { class: 'reapply-form' }, h('div', { class: 'range' }, start, confirm), answer);
  }

  const retryNow = (e: FailingEvent) => {
    const button = h('button', { type: 'button', class: 'retry-now', title: 'Try it again now instead of at its next try (once its cause is fixed)' }, 'Retry now');
    button.addEventListener('click', () => act(button, e, 'retry', undefined, () => `Retrying ${e.eventId} now; this list shows whether it went through.`));
    return button;
  };

  const giveUp = (e: FailingEvent) => {
    const reason = h('input', { name: 'reason', required: true, maxlength: 500, placeholder: 'reason', title: 'Why you give up on it: kept in the audit log' });
    const button = h('button', { type: 'submit' }, 'Give up');
    const form = h('form', { class: 'range give-up' }, reason, button);
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      act(button, e, 'ignore', { reason: reason.value.trim() }, ({ event }) => {
        const gaveUp = `Gave up on ${e.eventId}: ${e.customerId ?? 'its workspace'}'s later events go on`;
        return event.rereadEventId ? `${gaveUp}, and its object is queued to be read again from Stripe (${event.rereadEventId}).` : `${gaveUp}; it queued no re-read from Stripe.`;
      });
    });
    return form;
  };

  /**
   * Why a re-read was queued, from its id: `reread_<evt_...>` for a given-up event,
   * `reread_<in_...>_<status>` for an invoice change no subscribed event brings,
   * `reread_<sync run>_<object>` for a sync's page.
   */
  const rereadCause = (eventId: string) =>
    eventId.startsWith('reread_evt_')
      ? 'a re-read from Stripe, queued when an event was given up on'
      : eventId.startsWith('reread_in_')
        ? "a re-read from Stripe, queued when Wysera found the invoice in Stripe in another status than the mirror's (as when marked paid out of band, voided or written off, which no subscribed event tells)"
        : 'a re-read from Stripe, queued by a sync whose page could not be ordered against the mirror';
  const row = (e: FailingEvent) =>
    h(
      'tr',
      { 'data-event': e.eventId, tabindex: -1 },
      h('td', {}, when(e.receivedAt)),
      h('td', {}, h('code', {}, e.type), h('div', { class: 'muted small' }, e.type === 'wysera.reread' ? `${e.eventId}: ${rereadCause(e.eventId)}` : e.eventId)),
      h('td', {}, e.customerId ?? '—'),
      h('td', {}, String(e.attempts)),
      h('td', {}, h('pre', { class: 'error-text' }, e.lastError ?? '')),
      h('td', {}, when(e.nextAttemptAt)),
      h('td', {}, retryNow(e), giveUp(e)),
    );

  const tbody = h('tbody', {}, first.events.map(row));
  const count = h('p', { class: 'muted failing-count', 'aria-live': 'polite' });
  const showMore = h('button', { type: 'button', class: 'show-more' }, `Show the next ${PAGE_SIZE}`);
  const moreError = h('div', { class: 'more-error', 'aria-live': 'polite' });
  /** Says how many there are and how many are shown, and offers the next page while there is one. */
  const showProgress = (total: number) => {
    // `shown` may count rows delivered since they were listed; the API alone knows whether more follow.
    count.textContent = `${total} failing ${total === 1 ? 'event' : 'events'}${next === null ? '' : `; ${shown} shown, oldest first`}.`;
    showMore.hidden = next === null;
  };
  showMore.addEventListener('click', () => {
    if (next === null) return;
    showMore.disabled = true;
    mount(moreError);
    fetchPage(PAGE_SIZE, next).then(
      (page) => {
        showMore.disabled = false;
        const rows = page.events.map(row);
        tbody.append(...rows);
        shown += rows.length;
        next = page.nextAfterSeq;
        showProgress(page.total);
        // Keyboard and screen-reader users go on from the first row added, not from the top.
        rows[0]?.focus();
      },
      (err: unknown) => {
        showMore.disabled = false;
        mount(moreError, errorBox(err));
      },
    );
  });
  showProgress(first.total);

  mount(
    root,
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h('h1', {}, 'Webhooks'),
        h('p', { class: 'muted' }, 'What Stripe’s endpoint sends, and the events whose delivery keeps failing.'),
      ),
    ),
    endpoint,
    h('h2', {}, 'Failing events'),
    h('p', { class: 'muted' }, 'Stripe events whose delivery keeps failing, and re-reads from Stripe that failed. Each is retried every minute and holds back its customer’s later events. Once its cause is fixed, retry it now; giving up on a Stripe event lets the later events go on and queues a re-read of its object, so the mirror catches up with Stripe’s current state (with the workspace’s Stripe key).'),
    feedback,
    first.events.length
      ? [
          count,
          h(
            'table',
            { class: 'data failing-events' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Received'), h('th', {}, 'Event'), h('th', {}, 'Customer'), h('th', {}, 'Tries'), h('th', {}, 'Last error'), h('th', {}, 'Next try'), h('th', {}, ''))),
            tbody,
          ),
          showMore,
          moreError,
        ]
      : h('p', { class: 'empty-state' }, 'Every event Stripe sent has been delivered or is on its way.'),
  );
  // After an action the page is built anew: keyboard users go on from what it did, not from the top.
  (noticeBox ?? root.querySelector<HTMLElement>('.secret-feedback .success'))?.focus();
}
