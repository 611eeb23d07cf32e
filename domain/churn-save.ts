import { z } from 'zod';
import type { RiskReason, RiskReasonCode } from './churn-risk';
import type { Money } from './dunning-templates';
import { minorUnitsPer, type EmailTemplate } from './templates';

/**
 * The churn radar's save outreach: when a customer's risk score (domain/churn-risk.ts)
 * reaches the workspace's threshold, the play drafts one email with a real
 * intervention chosen from the reasons (a cheaper plan, a success call, or credits),
 * never a generic "we miss you". The reasons stay with the draft for the reviewer;
 * the email itself does not tell the customer they were scored.
 */
export const CHURN_PLAY = 'churn';

export const CHURN_INTERVENTIONS = ['downgrade', 'success_call', 'credits'] as const;
export type InterventionKind = (typeof CHURN_INTERVENTIONS)[number];

/**
 * How a save ended: its email sent; discarded by a person; not reviewed within the
 * window (expired); the play turned off; the send failed; the score fell below the
 * threshold before anything was drafted; the customer left first.
 */
export const CHURN_SAVE_OUTCOMES = ['sent', 'discarded', 'expired', 'off', 'failed', 'no_longer_at_risk', 'churned'] as const;
export type ChurnSaveOutcome = (typeof CHURN_SAVE_OUTCOMES)[number];

/** The churn play's part of play_settings.config, validated where it is stored and where it is read. */
export const churnConfigSchema = z.strictObject({
  /** A score at or above this starts a save (1-100; the "high" level by default). */
  threshold: z.number().int().min(1).max(100).default(50),
  /** After a save ends, no other for the same customer for this many days. */
  cooldownDays: z.number().int().min(1).max(365).default(30),
  /** Credits offered, as a share of the customer's monthly price (rounded to a whole unit of the currency). */
  creditPercent: z.number().int().min(1).max(100).default(20),
  /** Where a customer books a call with the success team; without it they reply to the email. */
  successCallUrl: z
    .url({ protocol: /^https?$/, error: 'an http(s) address' })
    .max(2000)
    .nullable()
    .default(null),
});
export type ChurnSettings = z.infer<typeof churnConfigSchema>;

export const DEFAULT_CHURN_SETTINGS: ChurnSettings = churnConfigSchema.parse({});

/** The workspace's settings; the defaults where unset (or no longer valid). */
export function churnSettings(config: Record<string, unknown>): ChurnSettings {
  const parsed = churnConfigSchema.safeParse(config);
  return parsed.success ? parsed.data : DEFAULT_CHURN_SETTINGS;
}

/** What the intervention offers, as the email cites it; every field present (null when it does not apply) for the templates. */
export interface InterventionFacts {
  kind: InterventionKind;
  /** downgrade: the next plan down and its price a month. */
  planName: string | null;
  monthlyPrice: Money | null;
  /** credits: how much, in the plan's currency. */
  credit: Money | null;
  /** success_call: where to book it, when the workspace gave an address. */
  bookingUrl: string | null;
  /** The risk reasons that chose it (codes), for the reviewer. */
  because: RiskReasonCode[];
}

export interface InterventionInput {
  reasons: readonly RiskReason[];
  /** The customer's plan and what it is worth a month, when the mirror knows it. */
  plan: { name: string; monthlyValue: Money } | null;
  /** The next plan down in the product mapping, with its entry price a month. */
  planDown: { name: string; monthlyPrice: Money } | null;
  settings: ChurnSettings;
}

/** Reasons that say the customer pays for more than they use: a cheaper plan keeps them. */
const PAYING_TOO_MUCH: readonly RiskReasonCode[] = ['cancellation_scheduled', 'partial_cancellation', 'contracted', 'usage_down'];
/** Reasons that say the product let them down: credits make up for the trouble. */
const TROUBLE: readonly RiskReasonCode[] = ['support_tickets'];
/** Reasons that say they are not getting value from it: a call with the success team. */
const DRIFTING: readonly RiskReasonCode[] = ['no_recent_login', 'logins_down', 'usage_down', 'nps_detractor'];

/**
 * The intervention for a customer at risk, from the reasons in order of what they
 * say: paying for more than they use (a cheaper plan, when one costs less in the
 * same currency), trouble with the product (credits), drifting away (a call). With
 * none of those (a cancellation on the cheapest plan), credits when the plan's price
 * is known, else a call.
 */
export function chooseIntervention(input: InterventionInput): InterventionFacts {
  const codes = input.reasons.map((r) => r.code);
  const matching = (group: readonly RiskReasonCode[]) => codes.filter((c) => group.includes(c));
  const none: Omit<InterventionFacts, 'kind' | 'because'> = { planName: null, monthlyPrice: null, credit: null, bookingUrl: null };
  const { plan, planDown, settings } = input;
  const cheaper = plan && planDown && planDown.monthlyPrice.currency === plan.monthlyValue.currency && planDown.monthlyPrice.amount < plan.monthlyValue.amount;
  const credits = (because: RiskReasonCode[]): InterventionFacts | null => {
    if (!plan || plan.monthlyValue.amount <= 0) return null;
    // A person offers a round sum: the share rounded to a whole unit of the currency, at least one.
    const { amount, currency } = plan.monthlyValue;
    const unit = minorUnitsPer(currency);
    const credit = Math.max(unit, Math.round((amount * settings.creditPercent) / 100 / unit) * unit);
    return { ...none, kind: 'credits', credit: { amount: credit, currency }, because };
  };
  const call = (because: RiskReasonCode[]): InterventionFacts => ({ ...none, kind: 'success_call', bookingUrl: settings.successCallUrl, because });

  if (cheaper && matching(PAYING_TOO_MUCH).length) return { ...none, kind: 'downgrade', planName: planDown.name, monthlyPrice: planDown.monthlyPrice, because: matching(PAYING_TOO_MUCH) };
  if (matching(TROUBLE).length) return credits(matching(TROUBLE)) ?? call(matching(TROUBLE));
  if (matching(DRIFTING).length) return call(matching(DRIFTING));
  return credits(codes) ?? call(codes);
}

/** What a save draft cites; stored with the draft. */
export interface ChurnSaveFacts {
  company: { name: string };
  customer: { id: string; name: string; email: string | null; tenureMonths: number | null };
  plan: { name: string; monthlyValue: Money } | null;
  /** From product signals, when the workspace sends them. */
  usage: { summary: string } | null;
  intervention: InterventionFacts;
  /** Why the play reached out: for the reviewer, never in the email. */
  risk: { score: number; threshold: number; reasons: RiskReason[] };
}

/** Facts of an imaginary customer, used to check a template before it is stored. */
export const EXAMPLE_CHURN_FACTS: ChurnSaveFacts = {
  company: { name: 'Acme Analytics' },
  customer: { id: 'cus_example', name: 'Jordan Example', email: 'jordan@example.com', tenureMonths: 20 },
  plan: { name: 'Growth', monthlyValue: { amount: 9900, currency: 'usd' } },
  usage: { summary: '240 reports generated in the last 30 days' },
  intervention: { kind: 'downgrade', planName: 'Starter', monthlyPrice: { amount: 2900, currency: 'usd' }, credit: null, bookingUrl: null, because: ['usage_down'] },
  risk: { score: 60, threshold: 50, reasons: [{ code: 'usage_down', points: 30, text: 'reports generated down 80% on the 30 days before (1,200 → 240)' }] },
};

const signOff = { html: '<p>Thanks,<br>The {{ company.name }} team</p>', text: 'Thanks,\nThe {{ company.name }} team' };

/** The built-in template of each intervention, used unless the workspace overrides it. */
export const DEFAULT_CHURN_TEMPLATES: Record<InterventionKind, EmailTemplate> = {
  downgrade: {
    subject: 'A {{ company.name }} plan that fits how you use it',
    html: `<p>Hi {{ customer.name }},</p>
<p>Thanks for being with {{ company.name }}{% if customer.tenureMonths %} for {{ customer.tenureMonths }} months{% endif %}. If {% if plan %}{{ plan.name }}{% else %}your plan{% endif %} is more than you need right now, {{ intervention.planName }} costs {{ intervention.monthlyPrice | money }} a month{% if plan %} instead of {{ plan.monthlyValue | money }}{% endif %} and keeps your account, your data and your settings as they are.</p>
{% if usage %}<p>For reference: {{ usage.summary }}.</p>{% endif %}
<p>Reply to this email and we will switch you over; there is no need to cancel.</p>
${signOff.html}`,
    text: `Hi {{ customer.name }},

Thanks for being with {{ company.name }}{% if customer.tenureMonths %} for {{ customer.tenureMonths }} months{% endif %}. If {% if plan %}{{ plan.name }}{% else %}your plan{% endif %} is more than you need right now, {{ intervention.planName }} costs {{ intervention.monthlyPrice | money }} a month{% if plan %} instead of {{ plan.monthlyValue | money }}{% endif %} and keeps your account, your data and your settings as they are.
{% if usage %}
For reference: {{ usage.summary }}.
{% endif %}
Reply to this email and we will switch you over; there is no need to cancel.

${signOff.text}`,
  },
  success_call: {
    subject: 'Can we help you get more out of {{ company.name }}?',
    html: `<p>Hi {{ customer.name }},</p>
<p>We would like to make sure {{ company.name }} is doing what you need. One of our team would be glad to spend 30 minutes with you on your setup, at no cost.</p>
{% if usage %}<p>For reference: {{ usage.summary }}.</p>{% endif %}
<p>{% if intervention.bookingUrl %}<a href="{{ intervention.bookingUrl }}">Pick a time that suits you</a>{% else %}Reply with a time that suits you and we will set it up.{% endif %}</p>
${signOff.html}`,
    text: `Hi {{ customer.name }},

We would like to make sure {{ company.name }} is doing what you need. One of our team would be glad to spend 30 minutes with you on your setup, at no cost.
{% if usage %}
For reference: {{ usage.summary }}.
{% endif %}
{% if intervention.bookingUrl %}Pick a time that suits you: {{ intervention.bookingUrl }}{% else %}Reply with a time that suits you and we will set it up.{% endif %}

${signOff.text}`,
  },
  credits: {
    subject: '{{ intervention.credit | money }} of {{ company.name }} credit, on us',
    html: `<p>Hi {{ customer.name }},</p>
<p>We know things have not gone as smoothly as they should lately, and we would like to make up for it: we will add {{ intervention.credit | money }} of credit to your {{ company.name }} account, taken off your next invoice.</p>
<p>Reply to this email to accept it, and tell us anything still getting in your way.</p>
${signOff.html}`,
    text: `Hi {{ customer.name }},

We know things have not gone as smoothly as they should lately, and we would like to make up for it: we will add {{ intervention.credit | money }} of credit to your {{ company.name }} account, taken off your next invoice.

Reply to this email to accept it, and tell us anything still getting in your way.

${signOff.text}`,
  },
};
