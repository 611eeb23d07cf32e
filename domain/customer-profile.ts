import type { ChurnRisk } from './churn-risk';
import type { CustomerActivity, LimitUse } from './product-activity';

/**
 * One customer as Wysera knows it, for the customer's page: who they are (the
 * mirror), what they pay and how that moved (analytics), their subscriptions, their
 * dunnings and the emails the plays wrote them. Amounts are minor units: the MRR and
 * its movements in the reporting currency, prices and invoices in their own.
 */
export interface CustomerProfile {
  customerId: string;
  name: string | null;
  email: string | null;
  /** Whether Stripe's copy is mirrored (a customer known only from analytics or a dunning has none). */
  mirrored: boolean;
  /** Whether the mirrored customer is a live-mode one (for a link to it in Stripe's dashboard); null when not mirrored. */
  livemode: boolean | null;
  /** Current MRR, the reporting currency, and the month of the first payment; null before any analytics. */
  mrr: number | null;
  reportingCurrency: string | null;
  cohortMonth: string | null;
  movements: { at: string; kind: string; amount: number; mrrBefore: number; mrrAfter: number }[];
  subscriptions: {
    id: string;
    status: string;
    currency: string;
    startDate: string | null;
    currentPeriodEnd: string | null;
    cancelAtPeriodEnd: boolean;
    endedAt: string | null;
    /**
     * `amount`: what one period of the item charges for its quantity (domain/price-amount.ts), tiered and package prices
     * too; null when that is not fixed. `unitAmount`: one unit's price, null where there is none (tiered, or sold in packages).
     */
    items: { priceId: string; product: string | null; quantity: number | null; unitAmount: number | null; amount: number | null; interval: string | null; intervalCount: number | null }[];
  }[];
  /** The latest invoices, newest first; amounts in the invoice's currency. */
  invoices: {
    id: string;
    status: string | null;
    currency: string;
    amountDue: number;
    amountPaid: number;
    amountRemaining: number;
    created: string | null;
    attemptCount: number;
    nextPaymentAttempt: string | null;
    /** Stripe's page of the invoice, where the customer pays it; only an http(s) address, else null. */
    hostedInvoiceUrl: string | null;
  }[];
  dunnings: { invoiceId: string; currency: string; amountDue: number; failedAt: string; outcome: string | null; emailsSent: number; endedAt: string | null }[];
  /** The latest drafts written to the customer, without their text (the draft's own page shows it, hidden as it hides). */
  drafts: { id: string; play: string; step: string; status: string; createdAt: string }[];
  /**
   * What the workspace's product says of the customer through the signals API: usage,
   * logins, tickets; and their use against their plan's usage limits (product mapping),
   * null when their plan has none the product reports use of.
   */
  activity: CustomerActivity & { limits: { plan: string; usage: LimitUse[] } | null };
  /** How likely they are to leave, and why (domain/churn-risk.ts); null without a live subscription. */
  risk: ChurnRisk | null;
  /**
   * The churn radar's latest saves for them, newest first: the score that started each
   * (under `risk`, so a role the workspace hides the risk from reads null), the offer,
   * how it ended (null: open).
   */
  saves: { id: string; startedAt: string; risk: { score: number } | null; intervention: string | null; outcome: string | null; endedAt: string | null }[];
  /** The expansion play's latest pitches to them, newest first: what set each off, the plan pitched (its name in the mapping), how it ended (null: open). */
  pitches: { id: string; startedAt: string; trigger: string; plan: string; outcome: string | null; endedAt: string | null }[];
  /** The renewal play's latest notes to them, newest first: the renewal, what the note folded in (null until drafted), how it ended. */
  renewalNotes: { id: string; subscriptionId: string; renewsAt: string; fold: string | null; outcome: string | null; endedAt: string | null }[];
}
