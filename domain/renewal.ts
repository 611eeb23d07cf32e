import { z } from 'zod';
import type { ChurnSaveFacts, InterventionFacts } from './churn-save';
import type { Money } from './dunning-templates';
import type { ExpansionPitchFacts } from './expansion';
import type { EmailTemplate } from './templates';

/**
 * Renewal notes: before a quarterly or annual subscription renews, one email that
 * reminds the customer of the date and the price and cites what they got from the
 * product; where they look at risk it folds in the churn radar's offer for their
 * reasons, and where they are ready to grow the expansion play's plan up.
 */
export const RENEWAL_PLAY = 'renewal';

/** What the note folds in: nothing, a save offer (churn risk at the threshold), an upgrade (near a limit, seats added). */
export const RENEWAL_FOLDS = ['plain', 'save', 'upgrade'] as const;
export type RenewalFold = (typeof RENEWAL_FOLDS)[number];

/**
 * How a note ended: sent; discarded; not reviewed before the renewal (expired); the
 * play off; the send failed; the subscription will not renew any more (cancelled,
 * ended) or renewed before the note went (both leave nothing to say); its renewal
 * moved to another date (the scan opens a note for that one); a dunning began; its
 * upgrade went to a customer whose churn risk has since reached the threshold
 * (refolded: the scan drafts the renewal's note again); no address; the workspace
 * had nothing to send with before the renewal (no_sender); its workflow was lost. After `off` and `refolded` the same renewal can get another note (migration
 * 029).
 */
export const RENEWAL_OUTCOMES = ['sent', 'discarded', 'expired', 'off', 'failed', 'not_renewing', 'renewed', 'moved', 'in_dunning', 'refolded', 'no_email', 'no_sender', 'lost'] as const;
export type RenewalOutcome = (typeof RENEWAL_OUTCOMES)[number];

/** Billed every this many months or more, a subscription is long-term: quarterly, half-yearly, annual. */
export const LONG_TERM_MONTHS = 3;

/** The renewal play's part of play_settings.config. */
export const renewalConfigSchema = z.strictObject({
  /** How long before the renewal date the note is drafted. */
  daysBefore: z.number().int().min(7).max(90).default(30),
  /** Fold in a save offer or an upgrade where the customer's risk or use calls for one. */
  offers: z.boolean().default(true),
});
export type RenewalSettings = z.infer<typeof renewalConfigSchema>;

export const DEFAULT_RENEWAL_SETTINGS: RenewalSettings = renewalConfigSchema.parse({});

export function renewalSettings(config: Record<string, unknown>): RenewalSettings {
  const parsed = renewalConfigSchema.safeParse(config);
  return parsed.success ? parsed.data : DEFAULT_RENEWAL_SETTINGS;
}

/** What a renewal note cites; stored with the draft. */
export interface RenewalNoteFacts {
  company: { name: string };
  customer: { id: string; name: string; email: string | null; tenureMonths: number | null };
  /**
   * The renewing subscription's plan and what it renews at per billing period ("year",
   * "3 months"): every fixed item for its quantity, after the discounts that still run
   * then (`listPrice` before them); `plusUsage` when items billed on use come on top;
   * `discountUnknown` when a discount's terms are not known yet, or the customer's own
   * discount would bill the renewal (`price` is then the list price, before every discount). `price` and `listPrice` are null when an item
   * billed at the period has an amount the mirror cannot work out (in fractions of a
   * cent, or tiers not synced yet): the note then states no price rather than part of one.
   * `name` is null for a product the mirror holds no name of (domain/outreach-facts.ts
   * planName): the note says "your plan".
   */
  plan: { name: string | null; price: Money | null; listPrice: Money | null; plusUsage: boolean; discountUnknown: boolean; period: string };
  /** When it renews (ISO time; templates write it with `| date_utc`). */
  renewal: { at: string };
  /** What they got from the product: the last window's use (upgrade: the use near the limit), with its period; null when the product sends nothing worth citing. */
  usage: { summary: string } | null;
  /** save: the churn radar's offer for the reasons (domain/churn-save.ts chooseIntervention). */
  intervention: InterventionFacts | null;
  /** upgrade: the expansion play's plan up and what set it off. */
  upgrade: { target: ExpansionPitchFacts['target']; seats: ExpansionPitchFacts['seats'] } | null;
  fold: RenewalFold;
  /** save: why, for the reviewer; never in the email. */
  risk: ChurnSaveFacts['risk'] | null;
}

/** The fold a note takes: a save where the risk is at the churn play's threshold (keeping the customer comes first), else an upgrade where one is ready, else plain. */
export function chooseFold(input: { offers: boolean; atRisk: boolean; upgradeReady: boolean }): RenewalFold {
  if (!input.offers) return 'plain';
  if (input.atRisk) return 'save';
  return input.upgradeReady ? 'upgrade' : 'plain';
}

const EXAMPLE_BASE: RenewalNoteFacts = {
  company: { name: 'Acme Analytics' },
  customer: { id: 'cus_example', name: 'Jordan Example', email: 'jordan@example.com', tenureMonths: 23 },
  plan: { name: 'Growth', price: { amount: 99_000, currency: 'usd' }, listPrice: { amount: 99_000, currency: 'usd' }, plusUsage: false, discountUnknown: false, period: 'year' },
  renewal: { at: '2027-01-15T00:00:00.000Z' },
  usage: { summary: '2,400 reports generated and 310 dashboards shared in the last 30 days' },
  intervention: null,
  upgrade: null,
  fold: 'plain',
  risk: null,
};

/** The imaginary customer of each fold: what a workspace's template for it is checked against. */
export function exampleRenewalFacts(fold: RenewalFold): RenewalNoteFacts {
  if (fold === 'save') {
    return {
      ...EXAMPLE_BASE,
      fold,
      usage: { summary: '240 reports generated in the last 30 days' },
      intervention: { kind: 'downgrade', planName: 'Starter', price: { amount: 29_000, currency: 'usd' }, currentPrice: { amount: 99_000, currency: 'usd' }, period: 'year', credit: null, bookingUrl: null, because: ['usage_down'] },
      risk: { score: 60, threshold: 50, reasons: [{ code: 'usage_down', points: 30, text: 'reports generated down 80% on the 30 days before (1,200 → 240)' }] },
    };
  }
  if (fold === 'upgrade') {
    return {
      ...EXAMPLE_BASE,
      fold,
      usage: { summary: '8,600 of the 10,000 reports generated included each month (86%), in the last 30 days' },
      upgrade: { target: { name: 'Scale', price: { amount: 299_000, currency: 'usd' }, period: 'year', allows: '50,000 reports generated', unlimitedSeats: false }, seats: null },
    };
  }
  return EXAMPLE_BASE;
}

const signOff = { html: '<p>Thanks,<br>The {{ company.name }} team</p>', text: 'Thanks,\nThe {{ company.name }} team' };
const opening = 'Your {% if plan.name %}{{ plan.name }} {% endif %}plan renews on {{ renewal.at | date_utc }} {% if plan.price %}at {{ plan.price | money }} per {{ plan.period }}{% if plan.discountUnknown %} before discounts{% elsif plan.price.amount < plan.listPrice.amount %} with your discount{% endif %}{% if plan.plusUsage %}, plus usage{% endif %}{% else %}for another {{ plan.period }}{% endif %}{% if customer.tenureMonths > 1 %}; thank you for {{ customer.tenureMonths }} months with {{ company.name }}{% endif %}.';
const saveOffer = `{% if intervention.kind == 'downgrade' %}If {% if plan.name %}{{ plan.name }}{% else %}your plan{% endif %} is more than you need now, you could renew on {{ intervention.planName }} instead, at {{ intervention.price | money }} per {{ intervention.period }}, with your account and data as they are.{% elsif intervention.kind == 'credits' %}We know things have not been as smooth as they should; with this renewal we would like to add {{ intervention.credit | money }} of credit to your account.{% else %}Before it renews, one of our team would be glad to spend 30 minutes with you on your setup, at no cost{% if intervention.bookingUrl %}: {{ intervention.bookingUrl }}{% endif %}.{% endif %}`;
const upgradeOffer = `{% if upgrade.seats %}Your team has grown to {{ upgrade.seats.to }} seats; renewing on {{ upgrade.target.name }} makes seats unlimited{% else %}So you do not outgrow it before the next renewal, you could renew on {{ upgrade.target.name }}{% if upgrade.target.allows %}, which includes {{ upgrade.target.allows }}{% endif %}{% endif %}{% if upgrade.target.price %}, at {{ upgrade.target.price | money }} per {{ upgrade.target.period }}{% endif %}.`;
const usageLine = { html: '{% if usage %}<p>What your team did with {{ company.name }}: {{ usage.summary }}.</p>{% endif %}', text: '{% if usage %}\nWhat your team did with {{ company.name }}: {{ usage.summary }}.\n{% endif %}' };

const note = (offer: string | null): EmailTemplate => ({
  subject: 'Your {{ company.name }} plan renews on {{ renewal.at | date_utc }}',
  html: `<p>Hi {{ customer.name }},</p>
<p>${opening}</p>
${usageLine.html}
${offer ? `<p>${offer}</p>\n` : ''}<p>Nothing needs doing for it to renew; reply to this email with any question.</p>
${signOff.html}`,
  text: `Hi {{ customer.name }},

${opening}
${usageLine.text}${offer ? `\n${offer}\n` : ''}
Nothing needs doing for it to renew; reply to this email with any question.

${signOff.text}`,
});

/** The built-in template of each fold, used unless the workspace overrides it. */
export const DEFAULT_RENEWAL_TEMPLATES: Record<RenewalFold, EmailTemplate> = {
  plain: note(null),
  save: note(saveOffer),
  upgrade: note(upgradeOffer),
};
