import type Stripe from 'stripe';
import { decimal } from './catalog';

/**
 * Builders for the Stripe objects the simulator stores. Each returns a value typed
 * with stripe-node's own interface, so the compiler checks every field against the
 * installed API version (2026-10-28). Nested objects that never change are shared
 * constants to keep a 5,000-customer account small in memory.
 */

const EMPTY_ADDRESS: Stripe.Address = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
const NO_CANCELLATION: Stripe.Subscription.CancellationDetails = { comment: null, feedback: null, feedback_option: null, reason: null };
const SUB_AUTOMATIC_TAX: Stripe.Subscription.AutomaticTax = { disabled_reason: null, enabled: false, liability: null };
const SUB_INVOICE_SETTINGS: Stripe.Subscription.InvoiceSettings = { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } };
const SUB_PAYMENT_SETTINGS: Stripe.Subscription.PaymentSettings = { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' };
const SUB_TRIAL_SETTINGS: Stripe.Subscription.TrialSettings = { end_behavior: { billing_cycle_anchor: null, missing_payment_method: 'create_invoice' } };
const INVOICE_AUTOMATIC_TAX: Stripe.Invoice.AutomaticTax = { disabled_reason: null, enabled: false, liability: null, provider: null, status: null };
const INVOICE_PAYMENT_SETTINGS: Stripe.Invoice.PaymentSettings = { default_mandate: null, payment_method_options: null, payment_method_types: null };
const INVOICE_RENDERING: Stripe.Invoice.Rendering = { amount_tax_display: null, pdf: { page_size: 'auto' }, template: null, template_version: null };

export function buildCustomer(c: {
  id: string;
  created: number;
  name: string;
  email: string;
  currency: string;
  invoicePrefix: string;
  country: string;
  metadata: Record<string, string>;
}): Stripe.Customer {
  return {
    id: c.id,
    object: 'customer',
    address: { ...EMPTY_ADDRESS, country: c.country },
    balance: 0,
    created: c.created,
    currency: c.currency,
    customer_account: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: c.email,
    invoice_prefix: c.invoicePrefix,
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: c.metadata,
    name: c.name,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export function buildSubscriptionItem(i: {
  id: string;
  created: number;
  subscription: string;
  price: Stripe.Price;
  plan: Stripe.Plan;
  quantity: number | undefined;
  periodStart: number;
  periodEnd: number;
}): Stripe.SubscriptionItem {
  const item: Stripe.SubscriptionItem = {
    id: i.id,
    object: 'subscription_item',
    billing_thresholds: null,
    created: i.created,
    current_period_end: i.periodEnd,
    current_period_start: i.periodStart,
    current_trial: null,
    discounts: [],
    metadata: {},
    plan: i.plan,
    price: i.price,
    subscription: i.subscription,
    tax_rates: [],
  };
  // Metered items carry no quantity, as in Stripe.
  if (i.quantity !== undefined) item.quantity = i.quantity;
  return item;
}

export function buildSubscription(s: {
  id: string;
  created: number;
  customer: string;
  currency: string;
  paymentMethod: string;
  items: Stripe.SubscriptionItem[];
  status: Stripe.Subscription.Status;
  trialStart: number | null;
  trialEnd: number | null;
  metadata: Record<string, string>;
}): Stripe.Subscription {
  return {
    id: s.id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: SUB_AUTOMATIC_TAX,
    billing_cycle_anchor: s.trialEnd ?? s.created,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: NO_CANCELLATION,
    collection_method: 'charge_automatically',
    created: s.created,
    currency: s.currency,
    customer: s.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: s.paymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: null,
    invoice_settings: SUB_INVOICE_SETTINGS,
    items: { object: 'list', data: s.items, has_more: false, url: `/v1/subscription_items?subscription=${s.id}` },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: s.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: SUB_PAYMENT_SETTINGS,
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: s.created,
    status: s.status,
    test_clock: null,
    transfer_data: null,
    trial_end: s.trialEnd,
    trial_settings: SUB_TRIAL_SETTINGS,
    trial_start: s.trialStart,
  };
}

export function noCancellation(): Stripe.Subscription.CancellationDetails {
  return NO_CANCELLATION;
}

export function buildDiscount(d: { id: string; start: number; end: number | null; customer: string; subscription: string; subscriptionItem: string | null; coupon: string }): Stripe.Discount {
  return {
    id: d.id,
    object: 'discount',
    checkout_session: null,
    customer: d.customer,
    customer_account: null,
    end: d.end,
    invoice: null,
    invoice_item: null,
    promotion_code: null,
    source: { coupon: d.coupon, type: 'coupon' },
    start: d.start,
    subscription: d.subscription,
    subscription_item: d.subscriptionItem,
  };
}

export function buildLine(l: {
  id: string;
  invoice: string;
  currency: string;
  amount: number;
  description: string;
  discount: { id: string; amount: number } | null;
  subscription: string;
  subscriptionItem: string;
  price: Stripe.Price;
  unitAmount: number;
  quantity: number;
  proration: boolean;
  periodStart: number;
  periodEnd: number;
}): Stripe.InvoiceLineItem {
  const product = typeof l.price.product === 'string' ? l.price.product : l.price.product.id;
  return {
    id: l.id,
    object: 'line_item',
    amount: l.amount,
    currency: l.currency,
    description: l.description,
    discount_amounts: l.discount ? [{ amount: l.discount.amount, discount: l.discount.id }] : [],
    discountable: true,
    discounts: [],
    invoice: l.invoice,
    livemode: false,
    metadata: {},
    parent: {
      type: 'subscription_item_details',
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: null,
        proration: l.proration,
        proration_details: { credited_items: null },
        subscription: l.subscription,
        subscription_item: l.subscriptionItem,
      },
    },
    period: { start: l.periodStart, end: l.periodEnd },
    pretax_credit_amounts: [],
    pricing: { type: 'price_details', price_details: { price: l.price.id, product }, unit_amount_decimal: decimal(l.unitAmount) },
    quantity: l.quantity,
    quantity_decimal: decimal(l.quantity),
    subscription: l.subscription,
    subtotal: l.amount,
    taxes: [],
  };
}

export function buildInvoice(i: {
  id: string;
  created: number;
  accountCountry: string;
  accountName: string;
  customer: Stripe.Customer;
  subscription: string;
  currency: string;
  billingReason: Stripe.Invoice.BillingReason;
  lines: Stripe.InvoiceLineItem[];
  discountIds: string[];
  number: string;
  hostedUrl: string;
  pdfUrl: string;
  periodStart: number;
  periodEnd: number;
  paymentMethod: string;
}): Stripe.Invoice {
  const subtotal = i.lines.reduce((sum, line) => sum + line.amount, 0);
  const byDiscount = new Map<string, number>();
  for (const line of i.lines) {
    for (const d of line.discount_amounts ?? []) {
      const key = typeof d.discount === 'string' ? d.discount : d.discount.id;
      byDiscount.set(key, (byDiscount.get(key) ?? 0) + d.amount);
    }
  }
  const discountTotal = [...byDiscount.values()].reduce((a, b) => a + b, 0);
  const total = subtotal - discountTotal;
  // No top-level `subscription` (nor `charge`, `payment_intent`): API version
  // 2025-03-31 moved the subscription to `parent.subscription_details` and payments to
  // invoice payments. Stripe's fixture still shows `subscription`; the shape test lists it.
  return {
    id: i.id,
    object: 'invoice',
    account_country: i.accountCountry,
    account_name: i.accountName,
    account_tax_ids: null,
    amount_due: total,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: total,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: INVOICE_AUTOMATIC_TAX,
    automatically_finalizes_at: null,
    billing_reason: i.billingReason,
    collection_method: 'charge_automatically',
    created: i.created,
    currency: i.currency,
    custom_fields: null,
    customer: i.customer.id,
    customer_account: null,
    customer_address: i.customer.address ?? null,
    customer_email: i.customer.email,
    customer_name: i.customer.name ?? null,
    customer_phone: null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: i.paymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: i.discountIds,
    due_date: null,
    effective_at: i.created,
    ending_balance: 0,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: i.hostedUrl,
    invoice_pdf: i.pdfUrl,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: i.lines, has_more: false, url: `/v1/invoices/${i.id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: i.number,
    on_behalf_of: null,
    parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: {}, subscription: i.subscription } },
    payment_settings: INVOICE_PAYMENT_SETTINGS,
    period_end: i.periodEnd,
    period_start: i.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: INVOICE_RENDERING,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'open',
    status_transitions: { finalized_at: i.created, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal,
    subtotal_excluding_tax: subtotal,
    test_clock: null,
    total,
    total_discount_amounts: [...byDiscount].map(([discount, amount]) => ({ amount, discount })),
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: i.created,
  };
}

export function buildPaymentIntent(p: {
  id: string;
  secret: string;
  created: number;
  amount: number;
  currency: string;
  customer: string;
  description: string;
  paymentMethod: string;
}): Stripe.PaymentIntent {
  return {
    id: p.id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: p.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: `${p.id}_secret_${p.secret}`,
    confirmation_method: 'automatic',
    created: p.created,
    currency: p.currency,
    customer: p.customer,
    customer_account: null,
    description: p.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: p.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: 'off_session',
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  };
}

export interface Decline {
  code: string;
  declineCode: string;
  message: string;
}

/**
 * A card charge. `payment_method_details` stays null: the simulator keeps no card
 * data at all (no numbers, no last4), which the mirror must not store anyway.
 */
export function buildCharge(c: {
  id: string;
  created: number;
  amount: number;
  currency: string;
  customer: Stripe.Customer;
  paymentIntent: string;
  paymentMethod: string;
  description: string;
  decline: Decline | null;
  balanceTransaction: string | null;
  receiptUrl: string | null;
}): Stripe.Charge {
  const ok = c.decline === null;
  return {
    id: c.id,
    object: 'charge',
    amount: c.amount,
    amount_captured: ok ? c.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: c.balanceTransaction,
    billing_details: { address: null, email: c.customer.email, name: c.customer.name ?? null, phone: null, tax_id: null },
    calculated_statement_descriptor: 'WYSERA SIM',
    captured: ok,
    created: c.created,
    currency: c.currency,
    customer: c.customer.id,
    description: c.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: c.decline ? c.decline.code : null,
    failure_message: c.decline ? c.decline.message : null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: ok
      ? { advice_code: null, network_advice_code: null, network_decline_code: null, network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' }
      : {
          advice_code: 'try_again_later',
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'declined_by_network',
          reason: c.decline?.declineCode ?? null,
          risk_level: 'normal',
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        },
    paid: ok,
    payment_intent: c.paymentIntent,
    payment_method: c.paymentMethod,
    payment_method_details: null,
    receipt_email: null,
    receipt_number: null,
    receipt_url: c.receiptUrl,
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, url: `/v1/charges/${c.id}/refunds` },
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: ok ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
}

export function buildRefund(r: {
  id: string;
  created: number;
  amount: number;
  charge: Stripe.Charge;
  balanceTransaction: string;
  reason: Stripe.Refund.Reason | null;
  metadata?: Stripe.Metadata;
}): Stripe.Refund {
  return {
    id: r.id,
    object: 'refund',
    amount: r.amount,
    balance_transaction: r.balanceTransaction,
    charge: r.charge.id,
    created: r.created,
    currency: r.charge.currency,
    customer: r.charge.customer,
    customer_account: null,
    destination_details: { type: 'card' },
    metadata: r.metadata ?? {},
    payment_intent: r.charge.payment_intent,
    payment_method: r.charge.payment_method,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

export type EventType = Stripe.Event['type'];
export type EventOf<T extends EventType> = Extract<Stripe.Event, { type: T }>;

export function buildEvent<T extends EventType>(e: {
  id: string;
  type: T;
  created: number;
  apiVersion: string;
  object: EventOf<T>['data']['object'];
  previous?: EventOf<T>['data']['previous_attributes'];
  account?: string;
  /** The API request that caused the event; null for Stripe's own automatic changes. */
  request?: { id: string; idempotency_key: string | null } | null;
}): EventOf<T> {
  const event = {
    id: e.id,
    object: 'event',
    api_version: e.apiVersion,
    created: e.created,
    data: e.previous ? { object: e.object, previous_attributes: e.previous } : { object: e.object },
    livemode: false,
    pending_webhooks: 0,
    request: e.request ?? { id: null, idempotency_key: null },
    type: e.type,
    ...(e.account ? { account: e.account } : {}),
  };
  // The generic cannot narrow the union by itself; the parameter types above tie
  // `object` to `type`, which is what matters.
  return event as unknown as EventOf<T>;
}

export function buildPortalSession(p: { id: string; created: number; customer: string; returnUrl: string | null; url: string; configuration: string }): Stripe.BillingPortal.Session {
  return {
    id: p.id,
    object: 'billing_portal.session',
    configuration: p.configuration,
    created: p.created,
    customer: p.customer,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: p.returnUrl,
    url: p.url,
  };
}

/**
 * How an invoice was paid. Since API version 2025-03-31 the invoice no longer names
 * its payment intent; this object (listed at /v1/invoice_payments, or expanded as
 * `payments` on an invoice) does.
 */
export function buildInvoicePayment(invoice: Stripe.Invoice, pi: Stripe.PaymentIntent): Stripe.InvoicePayment {
  const paid = invoice.status === 'paid';
  return {
    id: `inpay_${pi.id.slice(3)}`,
    object: 'invoice_payment',
    amount_paid: paid ? invoice.amount_paid : null,
    amount_requested: pi.amount,
    created: pi.created,
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: false,
    payment: { type: 'payment_intent', payment_intent: pi.id },
    status: paid ? 'paid' : invoice.status === 'void' ? 'canceled' : 'open',
    status_transitions: { canceled_at: null, paid_at: paid ? invoice.status_transitions.paid_at : null },
  };
}
