import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { canAct, canConfigure } from '../redaction';
import type { EmailTemplate } from '../../../domain/templates';
import { when } from '../format';
import { confirmStep, errorBox, loading, metaRow, noticeIn, section } from './common';

interface EmailSettings {
  fromEmail: string;
  fromName: string | null;
  replyTo: string | null;
  provider: { kind: string; keyHint: string; region?: string } | null;
}

interface TemplateEntry {
  /** A dunning tone, a churn save's offer, or an expansion pitch's trigger. */
  key: string;
  overridden: boolean;
  template: EmailTemplate;
  builtIn: EmailTemplate;
}

interface Preview {
  to: string | null;
  subject: string;
  html: string;
  text: string;
}

interface Schedule {
  config: { steps: { day: number; tone: string }[] };
}

/** Sends held because the provider refused the workspace's sender (db/sends.ts `senderHold`). */
interface SenderHold {
  drafts: number;
  lastRefusedAt: string;
  provider: string;
  error: string;
}

const PARTS: { part: keyof EmailTemplate; label: string; rows: number }[] = [
  { part: 'subject', label: 'Subject', rows: 1 },
  { part: 'text', label: 'Plain text', rows: 8 },
  { part: 'html', label: 'HTML', rows: 8 },
];

type TemplatePlay = 'dunning' | 'churn' | 'expansion' | 'renewal';

/** What the one-email plays' help says of a plan's name (domain/outreach-facts.ts planName). */
const NAMELESS_PLAN = "{{ plan.name }} is null for a product Stripe has not told its name yet: write {% if plan.name %}{{ plan.name }}{% else %}your plan{% endif %}.";

const FACTS_HELP: Record<TemplatePlay, string> = {
  dunning:
    'Liquid, with the facts a draft cites: {{ customer.name }}, {{ company.name }}, {{ invoice.amountDue | money }}, {{ invoice.number }}, {{ payUrl }}, {{ plan.name }}, {{ usage.summary }}, {{ step.number }} of {{ step.total }}, {% if step.isFinal %}…{% endif %}. A misspelt fact is refused when saved, with its line.',
  churn:
    'Liquid, with the facts a save cites: {{ customer.name }}, {{ company.name }}, {{ plan.name }}, {{ usage.summary }}, and its offer: {{ intervention.planName }} at {{ intervention.price | money }} per {{ intervention.period }} instead of {{ intervention.currentPrice | money }}, {{ intervention.credit | money }}, {{ intervention.bookingUrl }}. The risk score is not among them: the customer is never told they were scored.' + ` ${NAMELESS_PLAN}`,
  expansion:
    'Liquid, with the facts a pitch cites: {{ customer.name }}, {{ company.name }}, {{ plan.name }} at {{ plan.price | money }} per {{ plan.period }}, near a limit {{ usage.summary }} ({{ usage.percent }}%, over {{ usage.windowDays }} days), seats {{ seats.added }} added, {{ seats.to }} in all, and the plan pitched: {{ target.name }} at {{ target.price | money }} per {{ target.period }} (null where the plan has no price on their terms: write it inside {% if target.price %}), {{ target.allows }}. Cite the use through {{ usage.summary }}: that is what a workspace hiding the activity hides in drafts.' + ` ${NAMELESS_PLAN}`,
  renewal:
    'Liquid, with the facts a note cites: {{ customer.name }}, {{ company.name }}, {{ plan.name }} at {{ plan.price | money }} per {{ plan.period }} (what the renewal charges for its fixed items after the discounts that still run; {{ plan.listPrice | money }} before them; {{ plan.plusUsage }} when use is billed on top; {{ plan.discountUnknown }} when a discount\'s terms are not known yet or the customer\'s own discount would apply; both amounts are null when an item\'s amount cannot be worked out, so write them inside {% if plan.price %}: a note printing them bare is refused when saved), renewing on {{ renewal.at | date_utc }}, {{ usage.summary }}; with a save, the churn radar\'s {{ intervention.kind }} and its fields; with an upgrade, {{ upgrade.target.name }} at {{ upgrade.target.price | money }} per {{ upgrade.target.period }}, {{ upgrade.target.allows }}, {{ upgrade.seats.to }}. The risk score is not among them.' + ` ${NAMELESS_PLAN}`,
};

/** A template's heading: "Friendly", "Success call". */
const titleOf = (key: string) => `${key[0]!.toUpperCase()}${key.slice(1).replace(/_/g, ' ')}`;

const providerName = (p: NonNullable<EmailSettings['provider']>) => (p.kind === 'ses' ? `Amazon SES (${p.region ?? 'no region'})` : 'SendGrid');

/**
 * Who the emails come from: the workspace's from-address and provider, or the server's.
 * A save redraws this section only, so unsaved edits of the templates stay.
 */
function senderSection(ctx: PageContext, settings: EmailSettings | null, hold: SenderHold | null, notice?: string): HTMLElement {
  const owner = canConfigure(ctx.visibility.role);
  const held = hold ? holdBox(hold, owner) : null;
  const facts = h(
    'dl',
    { class: 'meta email-sender' },
    metaRow('From', settings ? (settings.fromName ? `${settings.fromName} <${settings.fromEmail}>` : settings.fromEmail) : "not set: the server's default sender (EMAIL_DEFAULT_FROM)"),
    metaRow('Reply-to', settings?.replyTo ?? 'the from-address'),
    metaRow('Sent through', settings?.provider ? `the workspace's own ${providerName(settings.provider)}, key ending ${settings.provider.keyHint}` : "the server's email provider"),
  );
  if (!owner) return section('Sender', held, facts, h('p', { class: 'muted small' }, `Only owners change the sender; your role is ${ctx.visibility.role}.`));

  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  noticeIn(feedback, notice);
  const fromEmail = h('input', { type: 'email', name: 'fromEmail', required: true, maxlength: 320, value: settings?.fromEmail ?? '', placeholder: 'billing@company.com' });
  const fromName = h('input', { type: 'text', name: 'fromName', maxlength: 100, value: settings?.fromName ?? '', placeholder: 'Company Billing' });
  const replyTo = h('input', { type: 'email', name: 'replyTo', maxlength: 320, value: settings?.replyTo ?? '', placeholder: 'the from-address' });
  // The workspace's own provider. Its keys are write-only (the API keeps them sealed and
  // shows a hint): the stored ones stay unless "replace" is ticked, and the key fields are
  // disabled until then, so a browser filling in a saved password cannot change them.
  const stored = settings?.provider ?? null;
  const providerKind = h(
    'select',
    { name: 'provider' },
    h('option', { value: 'server', selected: !stored }, "The server's provider"),
    h('option', { value: 'sendgrid', selected: stored?.kind === 'sendgrid' }, 'Our own SendGrid account'),
    h('option', { value: 'ses', selected: stored?.kind === 'ses' }, 'Our own Amazon SES'),
  );
  const secret = (name: string, placeholder: string) => h('input', { type: 'password', name, autocomplete: 'new-password', maxlength: 512, placeholder });
  const sendgridKey = secret('sendgridApiKey', 'SG....');
  const sesRegion = h('input', { type: 'text', name: 'sesRegion', maxlength: 40, placeholder: stored?.kind === 'ses' ? (stored.region ?? 'eu-west-1') : 'eu-west-1' });
  const sesKeyId = secret('sesAccessKeyId', 'AKIA...');
  const sesSecret = secret('sesSecretAccessKey', 'secret access key');
  const replaceKey = h('input', { type: 'checkbox', name: 'replaceKey' });
  const replaceRow = h('label', { class: 'check' }, replaceKey, stored ? `Replace the stored ${providerName(stored)} key (ending ${stored.keyHint}): all its fields` : '');
  const sendgridFields = h('div', { class: 'range provider-fields', 'data-kind': 'sendgrid' }, h('label', {}, 'SendGrid API key', sendgridKey));
  const sesFields = h('div', { class: 'range provider-fields', 'data-kind': 'ses' }, h('label', {}, 'Region', sesRegion), h('label', {}, 'Access key id', sesKeyId), h('label', {}, 'Secret access key', sesSecret));
  const keepsStored = () => stored !== null && providerKind.value === stored.kind && !replaceKey.checked;
  const showFields = () => {
    sendgridFields.hidden = providerKind.value !== 'sendgrid';
    sesFields.hidden = providerKind.value !== 'ses';
    replaceRow.hidden = stored === null || providerKind.value !== stored.kind;
    for (const [input, kind] of [[sendgridKey, 'sendgrid'], [sesRegion, 'ses'], [sesKeyId, 'ses'], [sesSecret, 'ses']] as const) {
      const used = providerKind.value === kind && !keepsStored();
      input.disabled = !used;
      input.required = used;
      if (!used) input.value = '';
    }
  };
  providerKind.addEventListener('change', showFields);
  replaceKey.addEventListener('change', showFields);
  showFields();
  /** What to send for the provider: undefined keeps the stored one, null removes it. */
  const providerChange = (): Record<string, string> | null | undefined => {
    const kind = providerKind.value;
    if (kind === 'server') return stored ? null : undefined;
    if (keepsStored()) return undefined;
    if (kind === 'sendgrid') return { kind, apiKey: sendgridKey.value.trim() };
    return { kind, region: sesRegion.value.trim(), accessKeyId: sesKeyId.value.trim(), secretAccessKey: sesSecret.value.trim() };
  };

  const save = h('button', { type: 'submit', class: 'primary' }, 'Save sender');
  // Removing a stored key cannot be undone (it is never shown again): that save asks first.
  const dropConfirm = h(
    'span',
    { class: 'confirm', hidden: true },
    stored ? `Saving deletes the workspace's ${providerName(stored)} key; emails then go through the server's provider. ` : '',
    h('button', { type: 'button', class: 'danger', onclick: () => send() }, 'Delete the key and save'),
    h('button', { type: 'button', onclick: () => ((dropConfirm.hidden = true), (save.hidden = false), save.focus()) }, 'Cancel'),
  );
  const form = h(
    'form',
    { class: 'email-sender-form' },
    h('div', { class: 'range' }, h('label', {}, 'From address', fromEmail), h('label', {}, 'From name', fromName), h('label', {}, 'Reply-to', replyTo)),
    h('div', { class: 'range' }, h('label', {}, 'Send through', providerKind)),
    replaceRow,
    sendgridFields,
    sesFields,
    h('div', { class: 'actions' }, save, dropConfirm),
  );
  const el = section('Sender', held, facts, form, feedback);
  const send = () => {
    mount(feedback);
    const orNull = (v: string) => (v.trim() === '' ? null : v.trim());
    const provider = providerChange();
    request<{ emailSettings: EmailSettings; senderHold: SenderHold | null }>('PUT', `${ctx.apiBase}/email-settings`, {
      fromEmail: fromEmail.value.trim(),
      fromName: orNull(fromName.value),
      replyTo: orNull(replyTo.value),
      ...(provider === undefined ? {} : { provider }),
    }).then(
      ({ emailSettings, senderHold }) =>
        el.replaceWith(
          senderSection(
            ctx,
            emailSettings,
            senderHold,
            `Saved: emails now come from ${emailSettings.fromEmail}${emailSettings.provider ? `, through the workspace's own ${providerName(emailSettings.provider)}` : ", through the server's provider"}.` +
              (senderHold ? ` The ${plural(senderHold.drafts, 'email')} held for the sender ${senderHold.drafts === 1 ? 'is' : 'are'} being tried again now: reload the page to see whether the provider takes ${senderHold.drafts === 1 ? 'it' : 'them'}.` : ''),
          ),
        ),
      (err: unknown) => {
        dropConfirm.hidden = true;
        save.hidden = false;
        mount(feedback, errorBox(err));
      },
    );
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (providerChange() === null && dropConfirm.hidden) {
      dropConfirm.hidden = false;
      save.hidden = true;
      dropConfirm.querySelector<HTMLButtonElement>('button.danger')!.focus();
      return;
    }
    send();
  });
  return el;
}

/**
 * One template: its parts, a preview for the example customer, and an owner's save or
 * reset, after which this template alone is drawn again (the others keep their edits).
 */
function templateEditor(ctx: PageContext, play: TemplatePlay, entry: TemplateEntry, usedBy: string, notice?: string): HTMLElement {
  const owner = canConfigure(ctx.visibility.role);
  const fields = Object.fromEntries(
    PARTS.map(({ part, rows }) => [
      part,
      rows === 1
        ? h('input', { type: 'text', name: part, value: entry.template[part], readonly: !owner, maxlength: 2000 })
        : h('textarea', { name: part, rows, readonly: !owner, spellcheck: false }, entry.template[part]),
    ]),
  ) as Record<keyof EmailTemplate, HTMLInputElement | HTMLTextAreaElement>;
  const current = (): EmailTemplate => ({ subject: fields.subject.value, html: fields.html.value, text: fields.text.value });
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  noticeIn(feedback, notice);
  const preview = h('div', { class: 'template-preview' });
  const fail = (err: unknown) => mount(feedback, errorBox(err));

  const showPreview = () => {
    mount(feedback);
    request<Preview>('POST', `${ctx.apiBase}/templates/preview`, { play, templateKey: entry.key, template: current() }).then((p) => {
      // The HTML part in a frame with no scripts and no origin of its own, since it is the
      // owner's markup. It takes this page's content policy: images from other sites are
      // not shown, and its links open in a new tab (a pay page refuses to be framed).
      const frame = h('iframe', { class: 'template-html', title: `HTML of the ${entry.key} email`, sandbox: 'allow-popups allow-popups-to-escape-sandbox' });
      frame.srcdoc = `<base target="_blank">${p.html}`;
      mount(
        preview,
        h('dl', { class: 'meta' }, metaRow('To', p.to ?? 'no email address'), metaRow('Subject', h('span', { class: 'preview-subject' }, p.subject))),
        h('pre', { class: 'preview-text' }, p.text),
        frame,
        h('p', { class: 'muted small' }, 'Images from other sites are not loaded in this preview; an email client shows them.'),
      );
    }, fail);
  };

  const actions = h('div', { class: 'actions' });
  if (canAct(ctx.visibility.role)) actions.append(h('button', { type: 'button', class: 'preview', onclick: showPreview }, 'Preview'));
  const form = h(
    'form',
    { class: 'template-editor', 'data-play': play, 'data-template': entry.key },
    h('h3', {}, `${titleOf(entry.key)} `, h('span', { class: `badge ${entry.overridden ? 'edited' : 'built-in'}` }, entry.overridden ? 'edited' : 'built-in')),
    h('p', { class: 'muted small' }, usedBy),
    PARTS.map(({ part, label }) => h('label', {}, label, fields[part])),
    actions,
    feedback,
    preview,
  );
  const redraw = (next: TemplateEntry, message: string) => form.replaceWith(templateEditor(ctx, play, next, usedBy, message));
  if (owner) {
    actions.append(h('button', { type: 'submit', class: 'primary' }, 'Save'));
    if (entry.overridden) {
      actions.append(
        ...confirmStep({
          label: 'Back to built-in',
          className: 'danger-outline reset',
          question: `Replace the ${entry.key} email with the built-in one?`,
          confirm: 'Use the built-in email',
          onConfirm: () => {
            mount(feedback);
            return request('DELETE', `${ctx.apiBase}/templates/${play}/${entry.key}`).then(
              () => redraw({ ...entry, overridden: false, template: entry.builtIn }, `The ${entry.key} email is the built-in one again.`),
              fail,
            );
          },
        }),
      );
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      mount(feedback);
      const template = current();
      request('PUT', `${ctx.apiBase}/templates/${play}/${entry.key}`, template).then(
        () => redraw({ ...entry, overridden: true, template }, `Saved the ${entry.key} email; the next ones drafted use it.`),
        fail,
      );
    });
  } else {
    // No save for this role: Enter in a field must not send the form anywhere.
    form.addEventListener('submit', (e) => e.preventDefault());
  }
  return form;
}

/** Which emails of the schedule a tone writes. */
function usedByText(tone: string, schedule: Schedule | null): string {
  if (!schedule) return '';
  const uses = schedule.config.steps.flatMap((st, i) => (st.tone === tone ? [`email ${i + 1} (day ${st.day})`] : []));
  return uses.length ? `Written for ${uses.join(', ')} of the dunning schedule.` : 'No step of the dunning schedule uses it now.';
}

/** What each churn save template is for. */
const SAVE_USES: Record<string, string> = {
  downgrade: 'Written for a customer paying for more than they use, offered the next plan down.',
  success_call: 'Written for a customer drifting away, offered a call with the success team.',
  credits: 'Written for a customer who had trouble with the product, offered credits.',
};

/** What each expansion pitch template is for. */
const PITCH_USES: Record<string, string> = {
  near_limit: 'Written for a customer at 80% of a usage limit, pitched the next plan up that allows more.',
  seats_added: 'Written for a customer who added seats, pitched the first plan with unlimited seats.',
};

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * Why the plays' emails are held: the provider refused the sender at their last try (a
 * revoked key, an unverified from-address). They are not failed: they go out once the
 * provider takes the sender, and a save of these settings has them tried at once.
 */
function holdBox(hold: SenderHold, owner: boolean): HTMLElement {
  const provider = hold.provider === 'sendgrid' ? 'SendGrid' : hold.provider === 'ses' ? 'Amazon SES' : 'The email provider';
  return h(
    'div',
    { class: 'error', role: 'alert', 'data-testid': 'sender-hold' },
    h('p', {}, `${plural(hold.drafts, 'email')} held: ${provider} refused to send as this workspace's sender, last on ${when(hold.lastRefusedAt)}.`),
    h('pre', { class: 'error-text' }, hold.error),
    h(
      'p',
      { class: 'small' },
      owner
        ? 'Put it right at the provider (verify the from-address there, or give the key permission to send), or change the sender below; saving the settings tries the held emails again at once. They are also tried again at each look of their plays until their drafts expire.'
        : 'An owner can put it right at the provider or change the sender; the held emails are tried again at each look of their plays until their drafts expire.',
    ),
  );
}

/** What each renewal note template is for. */
const NOTE_USES: Record<string, string> = {
  plain: 'Written for a renewal with nothing to add: the date, the price, the use.',
  save: 'Written for a customer at churn risk: the note folds in the churn radar’s offer for their reasons.',
  upgrade: 'Written for a customer near a limit or adding seats: the note folds in the plan up.',
};

/** The plays' email templates and their sender: read by everyone, changed by owners. */
export async function emailsPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  mount(root, loading());
  let settings: EmailSettings | null;
  let hold: SenderHold | null;
  let templates: TemplateEntry[];
  let saveTemplates: TemplateEntry[];
  let pitchTemplates: TemplateEntry[];
  let noteTemplates: TemplateEntry[];
  let schedule: Schedule | null;
  try {
    let sender: { emailSettings: EmailSettings | null; senderHold: SenderHold | null };
    [sender, templates, saveTemplates, pitchTemplates, noteTemplates, schedule] = await Promise.all([
      get<{ emailSettings: EmailSettings | null; senderHold: SenderHold | null }>(`${ctx.apiBase}/email-settings`),
      get<{ templates: TemplateEntry[] }>(`${ctx.apiBase}/templates/dunning`).then((r) => r.templates),
      get<{ templates: TemplateEntry[] }>(`${ctx.apiBase}/templates/churn`).then((r) => r.templates),
      get<{ templates: TemplateEntry[] }>(`${ctx.apiBase}/templates/expansion`).then((r) => r.templates),
      get<{ templates: TemplateEntry[] }>(`${ctx.apiBase}/templates/renewal`).then((r) => r.templates),
      // Only context for the templates: the page stands without it.
      get<Schedule>(`${ctx.apiBase}/plays/dunning/settings`).catch(() => null),
    ]);
    settings = sender.emailSettings;
    hold = sender.senderHold;
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  mount(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('div', {}, h('h1', {}, 'Emails'), h('p', { class: 'muted' }, "Who the plays' emails come from and what they say. A change applies to the emails drafted after it; drafts already written keep their text (edit them on the Drafts page).")),
    ),
    senderSection(ctx, settings, hold),
    section(
      'Dunning emails',
      h('p', { class: 'muted small' }, FACTS_HELP.dunning),
      canAct(ctx.visibility.role) ? h('p', { class: 'muted small' }, 'Preview renders what is in the fields, saved or not, for an example customer.') : null,
      ...templates.map((t) => templateEditor(ctx, 'dunning', t, usedByText(t.key, schedule))),
      canConfigure(ctx.visibility.role) ? null : h('p', { class: 'muted small' }, `Only owners change the emails; your role is ${ctx.visibility.role}.`),
    ),
    section(
      'Churn radar emails',
      h('p', { class: 'muted small' }, FACTS_HELP.churn),
      ...saveTemplates.map((t) => templateEditor(ctx, 'churn', t, SAVE_USES[t.key] ?? '')),
    ),
    section(
      'Expansion emails',
      h('p', { class: 'muted small' }, FACTS_HELP.expansion),
      ...pitchTemplates.map((t) => templateEditor(ctx, 'expansion', t, PITCH_USES[t.key] ?? '')),
    ),
    section(
      'Renewal notes',
      h('p', { class: 'muted small' }, FACTS_HELP.renewal),
      ...noteTemplates.map((t) => templateEditor(ctx, 'renewal', t, NOTE_USES[t.key] ?? '')),
    ),
  );
}
