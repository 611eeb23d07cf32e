/**
 * The mirror rows MRR is computed from, one interface per table of
 * db/migrations/001_core_schema.ts with the same column names, so loading them is a
 * plain `select` of these columns. Only the columns the metrics read are listed.
 */

export interface MirrorCustomer {
  id: string;
  currency: string | null;
  deleted: boolean;
}

export interface MirrorPrice {
  id: string;
  currency: string;
  unit_amount: number | null;
  billing_scheme: string;
  /** `volume` or `graduated` for a tiered price. */
  tiers_mode: string | null;
  /** The tiers as the mirror stores them (jsonb): domain/price-amount.ts periodAmount. */
  tiers: unknown;
  /** Package pricing (`{ divide_by, round }`), null for none: domain/price-amount.ts billedQuantity. */
  transform_quantity: unknown;
  /** one_time | recurring */
  type: string;
  recurring_interval: string | null;
  recurring_interval_count: number | null;
  recurring_usage_type: string | null;
}

export interface MirrorSubscription {
  id: string;
  customer_id: string;
  status: string;
  currency: string;
  cancel_at_period_end: boolean;
  cancel_at: Date | null;
  canceled_at: Date | null;
  ended_at: Date | null;
  current_period_start: Date | null;
  current_period_end: Date | null;
  trial_start: Date | null;
  trial_end: Date | null;
}

export interface MirrorSubscriptionItem {
  id: string;
  subscription_id: string;
  price_id: string;
  quantity: number | null;
}

export interface MirrorInvoice {
  id: string;
  customer_id: string;
  subscription_id: string | null;
  /** draft | open | paid | uncollectible | void */
  status: string | null;
  currency: string;
  created: Date | null;
  period_start: Date | null;
  period_end: Date | null;
}

export interface MirrorInvoiceLine {
  id: string;
  invoice_id: string;
  subscription_id: string | null;
  price_id: string | null;
  /** subscription | invoiceitem */
  type: string;
  /** Before discounts and without tax, as Stripe reports a line's amount. */
  amount: number;
  currency: string;
  quantity: number | null;
  proration: boolean;
  period_start: Date | null;
  period_end: Date | null;
  /** jsonb as Stripe sends it: [{ amount, discount }] */
  discount_amounts: unknown;
}

/** Everything the mirror holds about one customer, plus the prices their lines use. */
export interface CustomerHistory {
  customer: MirrorCustomer;
  subscriptions: readonly MirrorSubscription[];
  items: readonly MirrorSubscriptionItem[];
  invoices: readonly MirrorInvoice[];
  lines: readonly MirrorInvoiceLine[];
  prices: readonly MirrorPrice[];
}

/** An NPS answer from the signals API: score 0..10 at a time. */
export interface NpsSignal {
  customerId: string;
  score: number;
  at: Date;
}
