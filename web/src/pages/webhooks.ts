import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { when } from '../format';
import { canConfigure } from '../redaction';
import { errorBox, loading } from './common';

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

/**
 * Stripe events Wysera cannot deliver (GET .../webhook-events/failing): each holds back
 * its customer's later events. An owner reads the error, may have it tried again at
 * once (its cause fixed), or give up on it with a reason that goes to the audit log.
 */
export async function webhooksPage(ctx: PageContext, root: HTMLElement, notice?: string): Promise<void> {
  if (!canConfigure(ctx.visibility.role)) {
    mount(root, h('h1', {}, 'Webhooks'), h('p', { class: 'empty-state' }, `Only owners see the webhook events Wysera cannot deliver; your role is ${ctx.visibility.role}.`));
    return;
  }
  mount(root, loading());
  let events: FailingEvent[];
  let more: boolean;
  try {
    const page = await get<{ events: FailingEvent[]; nextAfterSeq: number | null }>(`${ctx.apiBase}/webhook-events/failing?limit=200`);
    events = page.events;
    more = page.nextAfterSeq !== null;
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' }, notice ? h('div', { class: 'success', role: 'status' }, notice) : null);

  /**
   * Posts an owner's action on an event (one request per click: a second would only be
   * refused, the event no longer failing), then shows the list again with `done`.
   */
  const act = (button: HTMLButtonElement, e: FailingEvent, action: 'retry' | 'ignore', body: unknown, done: string) => {
    button.disabled = true;
    mount(feedback);
    request('POST', `${ctx.apiBase}/webhook-events/${encodeURIComponent(e.eventId)}/${action}`, body).then(
      () => webhooksPage(ctx, root, done),
      (err: unknown) => {
        button.disabled = false;
        mount(feedback, errorBox(err));
      },
    );
  };

  const retryNow = (e: FailingEvent) => {
    const button = h('button', { type: 'button', class: 'retry-now', title: 'Try it again now instead of at its next try (once its cause is fixed)' }, 'Retry now');
    button.addEventListener('click', () => act(button, e, 'retry', undefined, `Retrying ${e.eventId} now; this list shows whether it went through.`));
    return button;
  };

  const giveUp = (e: FailingEvent) => {
    const reason = h('input', { name: 'reason', required: true, maxlength: 500, placeholder: 'reason', title: 'Why you give up on it: kept in the audit log' });
    const button = h('button', { type: 'submit' }, 'Give up');
    const form = h('form', { class: 'range give-up' }, reason, button);
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      act(button, e, 'ignore', { reason: reason.value.trim() }, `Gave up on ${e.eventId}: ${e.customerId ?? 'its workspace'}'s later events go on.`);
    });
    return form;
  };

  mount(
    root,
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h('h1', {}, 'Webhooks'),
        h('p', { class: 'muted' }, 'Stripe events whose delivery keeps failing. Each is retried every minute and holds back its customer’s later events. Once its cause is fixed, retry it now; giving up on one lets the later events go on, and what it would have changed comes with the object’s next event or the next sync.'),
      ),
    ),
    feedback,
    events.length
      ? h(
          'table',
          { class: 'data failing-events' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Received'), h('th', {}, 'Event'), h('th', {}, 'Customer'), h('th', {}, 'Tries'), h('th', {}, 'Last error'), h('th', {}, 'Next try'), h('th', {}, ''))),
          h(
            'tbody',
            {},
            events.map((e) =>
              h(
                'tr',
                { 'data-event': e.eventId },
                h('td', {}, when(e.receivedAt)),
                h('td', {}, h('code', {}, e.type), h('div', { class: 'muted small' }, e.eventId)),
                h('td', {}, e.customerId ?? '—'),
                h('td', {}, String(e.attempts)),
                h('td', {}, h('pre', { class: 'error-text' }, e.lastError ?? '')),
                h('td', {}, when(e.nextAttemptAt)),
                h('td', {}, retryNow(e), giveUp(e)),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty-state' }, 'Every event Stripe sent has been delivered or is on its way.'),
    more ? h('p', { class: 'muted' }, 'The 200 oldest are shown; give up on or fix those to see the rest.') : null,
  );
}
