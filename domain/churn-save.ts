import { z } from 'zod';
import { riskAsShown, riskLevel, type RiskReason, type RiskReasonCode } from './churn-risk';
import type { Money } from './dunning-templates';
import { minorUnitsPer } from './currency-units';
import type { EmailTemplate } from './templates';

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
 * threshold before anything was drafted; the customer left first; a dunning began
 * (that play writes to them now); while the draft waited the reasons came to call for
 * another offer (reoffered: the radar drafts a save again); Stripe has no email
 * address for them; the workspace had nothing to send with (no from-address, no
 * provider) before the draft went stale; its workflow was lost (terminated by an
 * operator: closed by the radar's sweep).
 */
export const CHURN_SAVE_OUTCOMES = ['sent', 'discarded', 'expired', 'off', 'failed', 'no_longer_at_risk', 'churned', 'in_dunning', 'reoffered', 'no_email', 'no_sender', 'lost'] as const;
export type ChurnSaveOutcome = (typeof CHURN_SAVE_OUTCOMES)[number];
/**
 * The outcomes after which the customer cools down: someone reached them or chose not
 * to, or trying again within the hour would end the same way (no address, a send the
 * provider refused). After the others (the play off, a dunning, a lost workflow, the
 * score falling, another offer called for, a workspace with no sender set up) the next
 * scan may open a save again.
 */
export const COOLING_OUTCOMES: readonly ChurnSaveOutcome[] = ['sent', 'discarded', 'expired', 'no_email', 'failed'];

/** The churn play's part of play_settings.config, validated where it is stored and where it is read. */
export const churnConfigSchema = z.strictObject({
  /** A score at or above this starts a save (1-100; the "high" level by default). */
  threshold: z.number().int().min(1).max(100).default(50),
  /** After a save ends, no other for the same customer for this many days. */
  cooldownDays: z.number().int().min(1).max(365).default(30),
  /** Credits offered, as a share of the customer's monthly price (rounded to a sum a person would offer). */
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
  /**
   * downgrade: the next plan down, its price for the customer's quantity, and what they
   * pay for their plan now (list prices), both per the plan's billing period
   * (`period`: "month", "year", "3 months").
   */
  planName: string | null;
  price: Money | null;
  currentPrice: Money | null;
  period: string | null;
  /** credits: how much, in the plan's currency. */
  credit: Money | null;
  /** success_call: where to book it, when the workspace gave an address. */
  bookingUrl: string | null;
  /** The risk reasons that chose it (codes), for the reviewer. */
  because: RiskReasonCode[];
}

export interface InterventionInput {
  reasons: readonly RiskReason[];
  /** The customer's plan and what their subscription is worth a month, when the mirror knows it; `item`: the plan's own item, priced per its billing period. */
  plan: { name: string | null; monthlyValue: Money; item: { price: Money; period: string } } | null;
  /** The next plan down in the product mapping, priced as the customer's plan item is (period, quantity, currency). */
  planDown: { name: string; price: Money } | null;
  settings: ChurnSettings;
}

/** Reasons that say the customer pays for more than they use: a cheaper plan keeps them. */
const PAYING_TOO_MUCH: readonly RiskReasonCode[] = ['cancellation_scheduled', 'partial_cancellation', 'contracted', 'usage_down'];
/** Reasons that say the product let them down: credits make up for the trouble. */
const TROUBLE: readonly RiskReasonCode[] = ['support_tickets'];
/** Reasons that say they are not getting value from it: a call with the success team. */
const DRIFTING: readonly RiskReasonCode[] = ['no_recent_login', 'logins_down', 'usage_down', 'nps_detractor'];

/**
 * A sum a person would offer: the amount to two significant figures, in whole units
 * of the currency, at least one (\$4.82 → \$5, \$78.85 → \$79, \$1,234 → \$1,200, ¥396 → ¥400).
 */
export function roundOffer(amount: number, currency: string): number {
  const unit = minorUnitsPer(currency);
  const major = amount / unit;
  const step = major >= 100 ? 10 ** (Math.floor(Math.log10(major)) - 1) : 1;
  return Math.max(1, Math.round(major / step) * step) * unit;
}

/**
 * The intervention for a customer at risk, from the reasons in order of what they
 * say: paying for more than they use (a cheaper plan, when one costs less in the
 * same currency), trouble with the product (credits), drifting away (a call).
 * Anything else (a cancellation on the cheapest plan, a payment failing) gets a call:
 * credits are a make-good for trouble, not an answer to a card that fails.
 */
export function chooseIntervention(input: InterventionInput): InterventionFacts {
  const codes = input.reasons.map((r) => r.code);
  const matching = (group: readonly RiskReasonCode[]) => codes.filter((c) => group.includes(c));
  const none: Omit<InterventionFacts, 'kind' | 'because'> = { planName: null, price: null, currentPrice: null, period: null, credit: null, bookingUrl: null };
  const { plan, planDown, settings } = input;
  const cheaper = plan && planDown && planDown.price.currency === plan.item.price.currency && planDown.price.amount < plan.item.price.amount;
  const credits = (because: RiskReasonCode[]): InterventionFacts | null => {
    if (!plan || plan.monthlyValue.amount <= 0) return null;
    const { amount, currency } = plan.monthlyValue;
    return { ...none, kind: 'credits', credit: { amount: roundOffer((amount * settings.creditPercent) / 100, currency), currency }, because };
  };
  const call = (because: RiskReasonCode[]): InterventionFacts => ({ ...none, kind: 'success_call', bookingUrl: settings.successCallUrl, because });

  if (cheaper && matching(PAYING_TOO_MUCH).length) {
    return { ...none, kind: 'downgrade', planName: planDown.name, price: planDown.price, currentPrice: plan.item.price, period: plan.item.period, because: matching(PAYING_TOO_MUCH) };
  }
  if (matching(TROUBLE).length) return credits(matching(TROUBLE)) ?? call(matching(TROUBLE));
  if (matching(DRIFTING).length) return call(matching(DRIFTING));
  return call(codes);
}

/** What a save draft cites; stored with the draft. */
export interface ChurnSaveFacts {
  company: { name: string };
  customer: { id: string; name: string; email: string | null; tenureMonths: number | null };
  /** Their plan and what their subscription is worth a month; `name` is null for a product the mirror holds no name of (domain/outreach-facts.ts planName). */
  plan: { name: string | null; monthlyValue: Money } | null;
  /** From product signals, when the workspace sends them. */
  usage: { summary: string } | null;
  intervention: InterventionFacts;
  /** Why the play reached out: for the reviewer, never in the email. */
  risk: { score: number; threshold: number; reasons: RiskReason[] };
}

/** Facts of an imaginary customer offered a cheaper plan. */
export const EXAMPLE_CHURN_FACTS: ChurnSaveFacts = {
  company: { name: 'Acme Analytics' },
  customer: { id: 'cus_example', name: 'Jordan Example', email: 'jordan@example.com', tenureMonths: 20 },
  plan: { name: 'Growth', monthlyValue: { amount: 9900, currency: 'usd' } },
  usage: { summary: '240 reports generated in the last 30 days' },
  intervention: { kind: 'downgrade', planName: 'Starter', price: { amount: 2900, currency: 'usd' }, currentPrice: { amount: 9900, currency: 'usd' }, period: 'month', credit: null, bookingUrl: null, because: ['usage_down'] },
  risk: { score: 60, threshold: 50, reasons: [{ code: 'usage_down', points: 30, text: 'reports generated down 80% on the 30 days before (1,200 → 240)' }] },
};

/** The imaginary customer offered `kind`: what a workspace's template for that offer is checked against before it is stored. */
export function exampleChurnFacts(kind: InterventionKind): ChurnSaveFacts {
  const offers: Record<InterventionKind, InterventionFacts> = {
    downgrade: EXAMPLE_CHURN_FACTS.intervention,
    credits: { kind, planName: null, price: null, currentPrice: null, period: null, credit: { amount: 2000, currency: 'usd' }, bookingUrl: null, because: ['support_tickets'] },
    success_call: { kind, planName: null, price: null, currentPrice: null, period: null, credit: null, bookingUrl: 'https://cal.example.com/acme/success', because: ['no_recent_login'] },
  };
  return { ...EXAMPLE_CHURN_FACTS, intervention: offers[kind] };
}

/**
 * A draft's facts as a role reads them where the workspace hides fields from it: a
 * save's risk reasons from hidden fields fold into one, as the customer's risk does
 * (domain/churn-risk.ts riskAsShown). Other facts are returned as they are.
 */
export function factsAsShown(facts: Record<string, unknown>, hiddenFields: ReadonlySet<string>): Record<string, unknown> {
  const risk = facts.risk as ChurnSaveFacts['risk'] | undefined;
  if (!hiddenFields.size || !risk || !Array.isArray(risk.reasons) || typeof risk.score !== 'number') return facts;
  const shown = riskAsShown({ score: risk.score, level: riskLevel(risk.score), reasons: risk.reasons }, hiddenFields);
  // The offer's `because` names reason codes too: a hidden one reads as "hidden", once.
  const visible = new Set(shown.reasons.map((r) => r.code));
  const offer = facts.intervention as InterventionFacts | undefined;
  // With the whole risk hidden, every reason is.
  const because = offer && Array.isArray(offer.because) ? [...new Set(offer.because.map((c) => (visible.has(c) && c !== 'hidden' && !hiddenFields.has('risk') ? c : 'hidden')))] : undefined;
  return { ...facts, risk: { ...risk, reasons: shown.reasons }, ...(offer && because ? { intervention: { ...offer, because } } : {}) };
}

const signOff = { html: '<p>Thanks,<br>The {{ company.name }} team</p>', text: 'Thanks,\nThe {{ company.name }} team' };

/** The built-in template of each intervention, used unless the workspace overrides it. */
export const DEFAULT_CHURN_TEMPLATES: Record<InterventionKind, EmailTemplate> = {
  downgrade: {
    subject: 'A plan that fits how you use {{ company.name }}',
    html: `<p>Hi {{ customer.name }},</p>
<p>Thanks for being with {{ company.name }}{% if customer.tenureMonths > 1 %} for {{ customer.tenureMonths }} months{% endif %}. If {% if plan.name %}{{ plan.name }}{% else %}your plan{% endif %} is more than you need right now, {{ intervention.planName }} costs {{ intervention.price | money }} per {{ intervention.period }} instead of {{ intervention.currentPrice | money }} and keeps your account, your data and your settings as they are.</p>
{% if usage %}<p>For reference: {{ usage.summary }}.</p>{% endif %}
<p>Reply to this email and we will switch you over; there is no need to cancel.</p>
${signOff.html}`,
    text: `Hi {{ customer.name }},

Thanks for being with {{ company.name }}{% if customer.tenureMonths > 1 %} for {{ customer.tenureMonths }} months{% endif %}. If {% if plan.name %}{{ plan.name }}{% else %}your plan{% endif %} is more than you need right now, {{ intervention.planName }} costs {{ intervention.price | money }} per {{ intervention.period }} instead of {{ intervention.currentPrice | money }} and keeps your account, your data and your settings as they are.
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
