import { z } from 'zod';
import type { Money } from './dunning-templates';
import { countOf, formatCount, limitsUse, type CustomerActivity } from './product-activity';
import type { PlanMapping } from './product-mapping';
import type { EmailTemplate } from './templates';

/**
 * The expansion playbook: a customer who reaches 80% of a usage limit of their plan
 * gets an upgrade pitch citing their use and the next plan up; one who added seats
 * (3 or more within a month) gets a pitch for the tier with unlimited seats. Never to
 * a customer in dunning, at churn risk (the churn play's threshold) or being saved;
 * a cooldown keeps pitches from repeating.
 */
export const EXPANSION_PLAY = 'expansion';

export const EXPANSION_TRIGGERS = ['near_limit', 'seats_added'] as const;
export type ExpansionTrigger = (typeof EXPANSION_TRIGGERS)[number];

/**
 * How a pitch ended: sent; discarded by a person; not reviewed in time (expired); the
 * play turned off; the send failed; the reason to pitch went away (no_longer_eligible:
 * before anything was drafted, use fell or seats went back; at any time, the customer
 * moved up to the plan pitched, or their plan can no longer be told); the customer left; a dunning began; their churn risk reached the threshold (at_risk);
 * Stripe has no address for them; the workspace had nothing to send with before the
 * draft went stale (no_sender: not the customer's doing, so no cooldown); its workflow
 * was lost.
 */
export const EXPANSION_OUTCOMES = ['sent', 'discarded', 'expired', 'off', 'failed', 'no_longer_eligible', 'churned', 'in_dunning', 'at_risk', 'no_email', 'no_sender', 'lost'] as const;
export type ExpansionOutcome = (typeof EXPANSION_OUTCOMES)[number];
/** After these the customer cools down: someone reached them or chose not to, or trying again soon would end the same way. */
export const EXPANSION_COOLING: readonly ExpansionOutcome[] = ['sent', 'discarded', 'expired', 'no_email', 'failed'];

/** The longest `seatWindowDays` a workspace may set: seat changes older than it are never read (workers/retention.ts). */
export const SEAT_WINDOW_MAX_DAYS = 90;

/** The expansion play's part of play_settings.config. */
export const expansionConfigSchema = z
  .strictObject({
    /** After a pitch ends, no other to the same customer for this many days. */
    cooldownDays: z.number().int().min(1).max(365).default(90),
    /** Seats added within `seatWindowDays` that call for a pitch of the unlimited tier. */
    seatsAdded: z.number().int().min(1).max(10_000).default(3),
    seatWindowDays: z.number().int().min(1).max(SEAT_WINDOW_MAX_DAYS).default(30),
  })
  // Seats added within the window would otherwise be pitched again once a shorter cooldown ends.
  .refine((c) => c.cooldownDays >= c.seatWindowDays, { message: 'must be at least seatWindowDays, or the same seats would be pitched again', path: ['cooldownDays'] });
export type ExpansionSettings = z.infer<typeof expansionConfigSchema>;

export const DEFAULT_EXPANSION_SETTINGS: ExpansionSettings = expansionConfigSchema.parse({});

/** The workspace's settings; the defaults where unset (or no longer valid). */
export function expansionSettings(config: Record<string, unknown>): ExpansionSettings {
  const parsed = expansionConfigSchema.safeParse(config);
  return parsed.success ? parsed.data : DEFAULT_EXPANSION_SETTINGS;
}

/** What set a pitch off, as stored with it and cited by the email. */
export type ExpansionEvidence =
  | { trigger: 'near_limit'; metric: string; label: string; used: number; included: number; percent: number; targetIncluded: number | null }
  | { trigger: 'seats_added'; from: number; to: number; added: number };

export interface ExpansionChoice {
  evidence: ExpansionEvidence;
  /** The plan pitched. */
  target: PlanMapping;
}

export interface ExpansionInput {
  /** The customer's plan product (db/customer-plan.ts); null without a live subscription. */
  productId: string | null;
  usage: CustomerActivity['usage'];
  /** The plan item's seats at the start of the window and now, when they grew in it (db/seat-changes.ts, of the plan's product). */
  seats: { from: number; to: number } | null;
}

/** The plans ranked above `current`, the lowest first. */
function plansAbove(mapping: readonly PlanMapping[], current: PlanMapping): PlanMapping[] {
  return mapping.filter((m) => m.tierRank > current.tierRank).sort((a, b) => a.tierRank - b.tierRank);
}

/**
 * Whether to pitch and what: near a usage limit (80% of the month's allowance, the
 * closest limit first), the next plan up that allows more of that metric; seats
 * added (at least `seatsAdded` in the window), the next plan up whose seats are
 * unlimited. A plan with nothing more to offer is no pitch. Null: nothing to pitch.
 */
export function chooseExpansion(input: ExpansionInput, mapping: readonly PlanMapping[], settings: ExpansionSettings): ExpansionChoice | null {
  if (!input.productId) return null;
  const current = mapping.find((m) => m.productId === input.productId);
  if (!current) return null;
  const above = plansAbove(mapping, current);
  for (const use of limitsUse(current.limits, input.usage).filter((u) => u.near)) {
    const target = above.find((p) => {
      const allowance = Object.hasOwn(p.limits, use.metric) ? p.limits[use.metric] : undefined;
      return allowance === null || (allowance !== undefined && allowance > use.included);
    });
    if (!target) continue;
    const allowance = target.limits[use.metric];
    return {
      evidence: { trigger: 'near_limit', metric: use.metric, label: use.label, used: use.used, included: use.included, percent: Math.floor((use.used * 100) / use.included), targetIncluded: allowance ?? null },
      target,
    };
  }
  const seats = input.seats;
  // A plan whose seats are unlimited already has nothing more to offer a growing team.
  const unlimitedNow = Object.hasOwn(current.limits, 'seats') && current.limits.seats === null;
  if (seats && !unlimitedNow && seats.to - seats.from >= settings.seatsAdded) {
    const target = above.find((p) => Object.hasOwn(p.limits, 'seats') && p.limits.seats === null);
    if (target) return { evidence: { trigger: 'seats_added', from: seats.from, to: seats.to, added: seats.to - seats.from }, target };
  }
  return null;
}

/** What a pitch's draft cites; stored with the draft. */
export interface ExpansionPitchFacts {
  company: { name: string };
  customer: { id: string; name: string; email: string | null; tenureMonths: number | null };
  /**
   * Their plan, its price for their quantity per billing period (`period`: "month",
   * "year", "3 months"); `name` is null for a product the mirror holds no name of
   * (domain/outreach-facts.ts planName).
   */
  plan: { name: string | null; price: Money; period: string } | null;
  /**
   * near_limit: the use in the last `windowDays` against the plan's monthly allowance,
   * only as `summary` ("8,600 of the 10,000 reports generated included each month
   * (86%)"): the one field a workspace that hides the product's activity hides in a
   * draft's text, so the count is nowhere else to cite. `label` names the metric;
   * `past`: the use is over the allowance already, which the email words otherwise.
   */
  usage: { label: string; windowDays: number; summary: string; past: boolean } | null;
  seats: { from: number; to: number; added: number } | null;
  /**
   * The plan pitched: its name, its price for their quantity per their plan's billing
   * period (null when it has no price in their currency and period), and what it
   * allows of the metric near its limit ("50,000 reports generated").
   */
  target: { name: string; price: Money | null; period: string | null; allows: string | null; unlimitedSeats: boolean };
  trigger: ExpansionTrigger;
}

/** The use a near-limit pitch cites, written out. */
export function usageCited(evidence: Extract<ExpansionEvidence, { trigger: 'near_limit' }>, windowDays: number): NonNullable<ExpansionPitchFacts['usage']> {
  const used = formatCount(evidence.used);
  return { label: evidence.label, windowDays, summary: `${used} of the ${countOf(evidence.included, evidence.label)} included each month (${evidence.percent}%)`, past: evidence.used > evidence.included };
}

/** What a target plan allows of a metric, as an email says it. */
export function allowsText(allowance: number | null | undefined, label: string): string | null {
  if (allowance === undefined) return null;
  return allowance === null ? `unlimited ${label}` : countOf(allowance, label);
}

/** Facts of an imaginary customer near a limit. */
export const EXAMPLE_EXPANSION_FACTS: ExpansionPitchFacts = {
  company: { name: 'Acme Analytics' },
  customer: { id: 'cus_example', name: 'Jordan Example', email: 'jordan@example.com', tenureMonths: 14 },
  plan: { name: 'Growth', price: { amount: 9900, currency: 'usd' }, period: 'month' },
  usage: { label: 'reports generated', windowDays: 30, summary: '8,600 of the 10,000 reports generated included each month (86%)', past: false },
  seats: null,
  target: { name: 'Scale', price: { amount: 29900, currency: 'usd' }, period: 'month', allows: '50,000 reports generated', unlimitedSeats: false },
  trigger: 'near_limit',
};

/** The imaginary customer for each trigger: what a workspace's template for it is checked against before it is stored. */
export function exampleExpansionFacts(trigger: ExpansionTrigger): ExpansionPitchFacts {
  if (trigger === 'near_limit') return EXAMPLE_EXPANSION_FACTS;
  return { ...EXAMPLE_EXPANSION_FACTS, trigger, usage: null, seats: { from: 6, to: 10, added: 4 }, target: { name: 'Enterprise', price: { amount: 49900, currency: 'usd' }, period: 'month', allows: null, unlimitedSeats: true } };
}

const signOff = { html: '<p>Thanks,<br>The {{ company.name }} team</p>', text: 'Thanks,\nThe {{ company.name }} team' };
// The target's price, and what they pay now when both are per the same period (they are: the target is priced as their plan is billed).
const price = `{% if target.price %} for {{ target.price | money }} per {{ target.period }}{% if plan %} (you pay {{ plan.price | money }} now){% endif %}{% endif %}`;

/** The built-in template of each trigger, used unless the workspace overrides it. */
export const DEFAULT_EXPANSION_TEMPLATES: Record<ExpansionTrigger, EmailTemplate> = {
  near_limit: {
    subject: 'You are {% if usage.past %}past{% else %}close to{% endif %} your {{ usage.label }} limit on {{ company.name }}',
    html: `<p>Hi {{ customer.name }},</p>
<p>In the last {{ usage.windowDays }} days your team used {{ usage.summary }} with {% if plan.name %}{{ plan.name }}{% else %}your plan{% endif %}. Good to see {{ company.name }} put to work.</p>
<p>{% if usage.past %}So your team is not held back by it{% else %}So you do not hit the limit mid-month{% endif %}: {{ target.name }} includes {% if target.allows %}{{ target.allows }}{% else %}more {{ usage.label }}{% endif %}${price}.</p>
<p>Reply to this email and we will move you over, with the difference prorated for the rest of this period.</p>
${signOff.html}`,
    text: `Hi {{ customer.name }},

In the last {{ usage.windowDays }} days your team used {{ usage.summary }} with {% if plan.name %}{{ plan.name }}{% else %}your plan{% endif %}. Good to see {{ company.name }} put to work.

{% if usage.past %}So your team is not held back by it{% else %}So you do not hit the limit mid-month{% endif %}: {{ target.name }} includes {% if target.allows %}{{ target.allows }}{% else %}more {{ usage.label }}{% endif %}${price}.

Reply to this email and we will move you over, with the difference prorated for the rest of this period.

${signOff.text}`,
  },
  seats_added: {
    subject: 'Room for your whole team on {{ company.name }}',
    html: `<p>Hi {{ customer.name }},</p>
<p>Your team has grown: {{ seats.added }} seats added recently, {{ seats.to }} in all. With {{ target.name }}, seats are unlimited, so you can bring everyone in without counting${price}.</p>
<p>Reply to this email and we will move you over, with the difference prorated for the rest of this period.</p>
${signOff.html}`,
    text: `Hi {{ customer.name }},

Your team has grown: {{ seats.added }} seats added recently, {{ seats.to }} in all. With {{ target.name }}, seats are unlimited, so you can bring everyone in without counting${price}.

Reply to this email and we will move you over, with the difference prorated for the rest of this period.

${signOff.text}`,
  },
};
