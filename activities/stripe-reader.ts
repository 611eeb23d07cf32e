import Stripe from 'stripe';
import type { Db } from '../db/knex';
import { invoiceSubscriptionId } from '../db/mirror';
import { findWorkspaceStripe } from '../db/workspaces';
import type { Keyring } from '../platform/crypto';
import { StripeBacklogError, type StripeClients } from './stripe-client';
import { monthlyValue, type RecurringItem } from '../domain/plan-value';
import { isInterval } from '../domain/period-months';
import { periodAmount } from '../domain/price-amount';
import type { Money } from '../domain/dunning-templates';

/**
 * What the plays read from Stripe (and the one write: paying an invoice out of
 * band). Activities depend on this interface; the implementation below calls
 * stripe-node, pointed at Stripe, stripe-mock or the simulator.
 */
export interface InvoiceSnapshot {
  id: string;
  customerId: string;
  subscriptionId: string | null;
  /** draft | open | paid | uncollectible | void */
  status: string | null;
  /** Paid, in part or whole, outside Stripe: marked paid out of band. */
  paidOffStripe: boolean;
  /** ISO-8601 UTC. */
  created: string | null;
  currency: string;
  amountDue: number;
  amountRemaining: number;
  number: string | null;
  hostedInvoiceUrl: string | null;
  /** ISO-8601 UTC, or null when Stripe will not retry. */
  nextPaymentAttempt: string | null;
}

export interface CustomerSnapshot {
  id: string;
  name: string | null;
  email: string | null;
  created: string | null;
}

export interface PlanSnapshot {
  name: string;
  monthlyValue: Money | null;
}

/** Stripe could not be asked or did not answer properly (network, 429, 5xx): try again later. */
export class StripeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeUnavailableError';
  }
}

export interface StripeReader {
  /** The invoice, or null when Stripe says it does not exist. */
  invoice(workspaceId: string, invoiceId: string): Promise<InvoiceSnapshot | null>;
  customer(workspaceId: string, customerId: string): Promise<CustomerSnapshot | null>;
  subscriptionPlan(workspaceId: string, subscriptionId: string): Promise<PlanSnapshot | null>;
  /** A billing-portal session where the customer updates their card, or null when the portal is not set up. */
  billingPortalUrl(workspaceId: string, customerId: string): Promise<string | null>;
  /** invoices.pay with paid_out_of_band: the only write Wysera makes to Stripe. */
  payOutOfBand(workspaceId: string, invoiceId: string): Promise<InvoiceSnapshot>;
}

/** Where a Stripe client for a workspace comes from (its key; Stripe, stripe-mock or the simulator). */
export type StripeClientFor = (workspaceId: string) => Promise<Stripe>;

/**
 * How long a play's (or a relay re-fetch's, or a person's) Stripe call waits for the
 * workspace's rate limit before it gives up as unavailable. Their callers wait better
 * elsewhere: a dunning on a durable timer, the relay by deferring the event. Without
 * a bound, a billing run's burst of failed payments (more than a minute of the limit:
 * 1,200 in test mode, 4,800 live) would queue every dunning's first read past its
 * local activity's one-minute timeout; each retry would queue again at the back, and
 * the abandoned calls would still spend the tokens, so none would ever begin.
 */
export const PLAYS_MAX_STRIPE_QUEUE_MS = 20_000;

/**
 * Each workspace's own client from its stored key, through the process's shared
 * StripeClients so the plays' reads count against the same per-workspace rate limit
 * as the sync. The clients retry 429/5xx a few times themselves; what still fails, or
 * would wait longer than `maxQueueMs` for the rate limit, reaches the plays as
 * StripeUnavailableError.
 */
export function workspaceStripeClients(db: Db, keyring: Keyring, clients: StripeClients, maxQueueMs = PLAYS_MAX_STRIPE_QUEUE_MS): StripeClientFor {
  return async (workspaceId) => {
    const access = await findWorkspaceStripe(db, keyring, workspaceId);
    if (!access) throw new StripeKeyMissingError(`workspace ${workspaceId} does not exist or has no Stripe key`);
    return clients.forWorkspace({
      workspaceId: access.workspaceId,
      apiKey: access.apiKey,
      stripeAccount: access.stripeAccountId,
      livemode: access.livemode,
      rateLimitRps: access.settings.stripeRateLimitRps,
    }, maxQueueMs);
  };
}

/** stripe-node options for an API base URL other than Stripe's (stripe-mock, the simulator). */
export function stripeHostOptions(baseUrl: string | undefined): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (!baseUrl) return {};
  const url = new URL(baseUrl);
  return { host: url.hostname, port: url.port || (url.protocol === 'https:' ? '443' : '80'), protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

const iso = (unix: number | null | undefined) => (typeof unix === 'number' ? new Date(unix * 1000).toISOString() : null);
const idOf = (v: string | { id: string } | null | undefined) => (typeof v === 'string' ? v : (v?.id ?? null));

function invoiceSnapshot(i: Stripe.Invoice): InvoiceSnapshot {
  // API versions before 2025-03-31 flag it; later ones give the amount paid off Stripe.
  const legacy = i as Stripe.Invoice & { paid_out_of_band?: boolean };
  return {
    id: i.id ?? '',
    customerId: idOf(i.customer) ?? '',
    subscriptionId: invoiceSubscriptionId(i),
    status: i.status ?? null,
    paidOffStripe: (i.amount_paid_off_stripe ?? 0) > 0 || legacy.paid_out_of_band === true,
    created: iso(i.created),
    currency: i.currency,
    amountDue: i.amount_due,
    amountRemaining: i.amount_remaining,
    number: i.number ?? null,
    hostedInvoiceUrl: i.hosted_invoice_url ?? null,
    nextPaymentAttempt: iso(i.next_payment_attempt),
  };
}

/** Translates stripe-node errors: outages become StripeUnavailableError; a 404 becomes null. */
export async function readStripe<T>(what: string, call: () => Promise<T>): Promise<T | null> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) {
      if (err.statusCode === 404) return null;
      // stripe-node reports the HTTP layer's refusal as a connection error; say what it was.
      if (err.detail instanceof StripeBacklogError) throw new StripeUnavailableError(`Stripe busy reading ${what}: ${err.detail.message}`);
      if (
        err instanceof Stripe.errors.StripeConnectionError ||
        err instanceof Stripe.errors.StripeAPIError ||
        err instanceof Stripe.errors.StripeRateLimitError ||
        (err.statusCode !== undefined && (err.statusCode >= 500 || err.statusCode === 429))
      ) {
        throw new StripeUnavailableError(`Stripe unavailable reading ${what}: ${err.message}`);
      }
    }
    throw err;
  }
}

export function createStripeReader(clientFor: StripeClientFor): StripeReader {
  return {
    async invoice(workspaceId, invoiceId) {
      const stripe = await clientFor(workspaceId);
      const i = await readStripe(`invoice ${invoiceId}`, () => stripe.invoices.retrieve(invoiceId));
      return i && invoiceSnapshot(i);
    },
    async customer(workspaceId, customerId) {
      const stripe = await clientFor(workspaceId);
      const c = await readStripe(`customer ${customerId}`, () => stripe.customers.retrieve(customerId));
      if (!c || c.deleted) return null;
      return { id: c.id, name: c.name ?? null, email: c.email ?? null, created: iso(c.created) };
    },
    async subscriptionPlan(workspaceId, subscriptionId) {
      const stripe = await clientFor(workspaceId);
      const s = await readStripe(`subscription ${subscriptionId}`, () => stripe.subscriptions.retrieve(subscriptionId, { expand: ['items.data.price.product', 'items.data.price.tiers'] }));
      if (!s) return null;
      const items: RecurringItem[] = [];
      const names: string[] = [];
      for (const item of s.items.data) {
        const price = item.price;
        const interval = price.recurring?.interval;
        if (!price.recurring || !isInterval(interval)) continue;
        const product = price.product;
        if (typeof product === 'object' && 'name' in product && product.name) names.push(product.name);
        const terms = { unitAmount: price.unit_amount, billingScheme: price.billing_scheme, usageType: price.recurring.usage_type, tiersMode: price.tiers_mode, tiers: price.tiers, transformQuantity: price.transform_quantity };
        items.push({ amount: periodAmount(terms, item.quantity ?? 1), currency: price.currency, interval, intervalCount: price.recurring.interval_count });
      }
      return { name: names.join(' + ') || 'your plan', monthlyValue: monthlyValue(items) };
    },
    async billingPortalUrl(workspaceId, customerId) {
      const stripe = await clientFor(workspaceId);
      try {
        const session = await readStripe(`billing portal for ${customerId}`, () => stripe.billingPortal.sessions.create({ customer: customerId }));
        return session?.url ?? null;
      } catch (err) {
        // No portal configuration in the account: the hosted invoice page is used instead.
        if (err instanceof Stripe.errors.StripeInvalidRequestError) return null;
        throw err;
      }
    },
    async payOutOfBand(workspaceId, invoiceId) {
      const stripe = await clientFor(workspaceId);
      const i = await readStripe(`invoice ${invoiceId}`, () => stripe.invoices.pay(invoiceId, { paid_out_of_band: true }));
      if (!i) throw new StripeNotFoundError(`Stripe has no invoice ${invoiceId}`);
      return invoiceSnapshot(i);
    },
  };
}

/** Stripe has no such object (a read that must find one, such as paying an invoice). */
export class StripeNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeNotFoundError';
  }
}

/**
 * The workspace has no Stripe key to ask with (webhook-only, or not yet connected).
 * Not the same as StripeNotFoundError: a play waits for a key, but never for an
 * object Stripe says does not exist.
 */
export class StripeKeyMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeKeyMissingError';
  }
}

/**
 * Whether a play should wait and read again later rather than fail: Stripe is
 * unavailable, or the workspace has no Stripe key yet (webhook-only: its plays begin
 * once a key is connected). Retrying such a read at once would only fail again.
 */
export function isWorthWaitingFor(err: unknown): err is StripeUnavailableError | StripeKeyMissingError {
  return err instanceof StripeUnavailableError || err instanceof StripeKeyMissingError;
}

