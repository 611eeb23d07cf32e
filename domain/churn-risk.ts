import { formatCount, type CustomerActivity } from './product-activity';
import { DAY_MS } from './durations';

/**
 * A paying customer's churn risk: a score from 0 to 100 that is the sum of named
 * reasons, each with its points and a sentence a person can check against the
 * customer's page. Stripe's billing says what the customer decided (a cancellation
 * scheduled, a payment failing, a downgrade); the product's signals say what they do
 * (usage and logins falling, support tickets piling up, a low NPS answer). No reason
 * cites an amount, so the score reads the same to every role.
 */

export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** A score at or above these is medium, and high. */
export const RISK_THRESHOLDS = { medium: 25, high: 50 } as const;

export type RiskReasonCode =
  | 'cancellation_scheduled'
  | 'partial_cancellation'
  | 'payment_failing'
  | 'contracted'
  | 'usage_down'
  | 'logins_down'
  | 'no_recent_login'
  | 'support_tickets'
  | 'nps_detractor'
  /** Reasons from fields the workspace hides from the reader, together (riskAsShown). */
  | 'hidden';

export interface RiskReason {
  code: RiskReasonCode;
  points: number;
  text: string;
}

export interface ChurnRisk {
  score: number;
  level: RiskLevel;
  /** The biggest first; their points add up to the score (before the cap at 100). */
  reasons: RiskReason[];
}

/** What the score is made from, for one customer with a live subscription. */
export interface RiskInputs {
  /** Subscriptions set to end (cancelled at the period's end, or at a date): the last one's end (ISO-8601), and whether every live one is; null when none is. */
  cancellation: { endsAt: string; all: boolean } | null;
  /** Since when a payment has been failing: the oldest running dunning's failure, or a subscription's past-due status (null date). */
  paymentFailing: { since: string | null } | null;
  /** The latest contraction of the customer's MRR (a downgrade or seats removed) in the last 90 days. */
  contractedAt: string | null;
  /** The product's signals; null when it never sent one about the customer. */
  activity: CustomerActivity | null;
  /** The customer's latest NPS answer (0-10), if any. */
  latestNps: number | null;
}

/**
 * A fixed term (a subscription set to end from the day it began) weighs as a
 * scheduled cancellation only this close to its end: until then it is the contract
 * the customer chose, and from then it ends unless someone talks to them.
 */
export const FIXED_TERM_NOTICE_DAYS = 60;
/** How far back a contraction still counts. */
export const CONTRACTION_WINDOW_DAYS = 90;
/** A customer who logged in before and not for this long is drifting away. */
export const QUIET_LOGIN_DAYS = 14;
/** Below these the windows are too thin to call a fall a trend. */
const MIN_PREVIOUS_USAGE = 10;
const MIN_PREVIOUS_LOGINS = 5;

const day = (iso: string) => iso.slice(0, 10);

/** How much a count fell from the window before (0.62 for 62%), when it fell from enough to mean something. */
function fall(last: number, previous: number, floor: number): number | null {
  if (previous < floor || last >= previous) return null;
  return 1 - last / previous;
}

const pct = (share: number) => `${Math.round(share * 100)}%`;

/** Points for a fall: steeper falls weigh more. */
function fallPoints(share: number, steps: readonly [number, number][]): number {
  for (const [atLeast, points] of steps) if (share >= atLeast) return points;
  return 0;
}

export function churnRisk(inputs: RiskInputs, now: Date): ChurnRisk {
  const reasons: RiskReason[] = [];
  const add = (code: RiskReasonCode, points: number, text: string) => {
    if (points > 0) reasons.push({ code, points, text });
  };
  const c = inputs.cancellation;
  // Every subscription ending is the customer leaving; one of several, an add-on or a seat plan dropped.
  if (c?.all) add('cancellation_scheduled', 50, `Cancellation scheduled: their subscription ends on ${day(c.endsAt)}`);
  else if (c) add('partial_cancellation', 15, `A subscription is set to end on ${day(c.endsAt)}; another goes on`);
  if (inputs.paymentFailing) add('payment_failing', 25, inputs.paymentFailing.since ? `A payment has been failing since ${day(inputs.paymentFailing.since)}` : 'A subscription is past due');
  if (inputs.contractedAt) add('contracted', 15, `Downgraded or removed seats on ${day(inputs.contractedAt)}`);

  const a = inputs.activity;
  if (a) {
    // The metric they used most in the window before: the one whose fall says most.
    const main = [...a.usage].sort((x, y) => y.previous - x.previous)[0];
    const used = main && fall(main.last, main.previous, MIN_PREVIOUS_USAGE);
    if (main && used) {
      add('usage_down', fallPoints(used, [[0.75, 30], [0.5, 20], [0.25, 10]]), `${main.label} down ${pct(used)} on the ${a.windowDays} days before (${formatCount(main.previous)} → ${formatCount(main.last)})`);
    }
    const quietDays = a.logins.lastAt ? Math.floor((now.getTime() - Date.parse(a.logins.lastAt)) / DAY_MS) : null;
    if (quietDays !== null && quietDays >= QUIET_LOGIN_DAYS) add('no_recent_login', 20, `No login for ${quietDays} days`);
    else {
      const logins = fall(a.logins.last, a.logins.previous, MIN_PREVIOUS_LOGINS);
      if (logins) add('logins_down', fallPoints(logins, [[0.5, 10], [0.25, 5]]), `Logins down ${pct(logins)} on the ${a.windowDays} days before (${formatCount(a.logins.previous)} → ${formatCount(a.logins.last)})`);
    }
    const t = a.tickets;
    if (t.openUrgent > 0) add('support_tickets', Math.min(20, 10 * t.openUrgent), `${t.openUrgent} high-priority support ${t.openUrgent === 1 ? 'ticket' : 'tickets'} open`);
    else if (t.openedLast >= 3) add('support_tickets', 10, `${t.openedLast} support tickets opened in the last ${a.windowDays} days`);
  }
  if (inputs.latestNps !== null && inputs.latestNps <= 6) add('nps_detractor', 10, `Gave ${inputs.latestNps} out of 10 in their latest NPS answer`);

  reasons.sort((x, y) => y.points - x.points);
  const score = Math.min(100, reasons.reduce((sum, r) => sum + r.points, 0));
  return { score, level: riskLevel(score), reasons };
}

export function riskLevel(score: number): RiskLevel {
  return score >= RISK_THRESHOLDS.high ? 'high' : score >= RISK_THRESHOLDS.medium ? 'medium' : 'low';
}

/**
 * The fields of a customer's profile each reason tells of (the redaction hides a key
 * wherever it appears): a workspace that hides any of them hides the reason.
 */
const REASON_SOURCES: Record<Exclude<RiskReasonCode, 'hidden'>, readonly string[]> = {
  cancellation_scheduled: ['subscriptions', 'cancelAtPeriodEnd', 'currentPeriodEnd', 'endedAt'],
  partial_cancellation: ['subscriptions', 'cancelAtPeriodEnd', 'currentPeriodEnd', 'endedAt'],
  payment_failing: ['dunnings', 'failedAt', 'subscriptions', 'status'],
  contracted: ['movements'],
  usage_down: ['activity', 'usage'],
  logins_down: ['activity', 'logins'],
  no_recent_login: ['activity', 'logins'],
  support_tickets: ['activity', 'tickets'],
  nps_detractor: ['nps'],
};

/**
 * The risk as a role reads it where the workspace hides fields from it: the reasons
 * from hidden fields become one, "hidden", with their points together (the score
 * stands), so neither their words nor their codes tell what was hidden.
 */
export function riskAsShown(risk: ChurnRisk, hiddenFields: ReadonlySet<string>): ChurnRisk {
  const isHidden = (r: RiskReason) => r.code === 'hidden' || REASON_SOURCES[r.code].some((f) => hiddenFields.has(f));
  const hidden = risk.reasons.filter(isHidden);
  if (!hidden.length) return risk;
  const points = hidden.reduce((sum, r) => sum + r.points, 0);
  const shown = [...risk.reasons.filter((r) => !isHidden(r)), { code: 'hidden' as const, points, text: 'Reasons hidden for your role' }];
  return { ...risk, reasons: shown.sort((x, y) => y.points - x.points) };
}
