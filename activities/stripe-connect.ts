import Stripe from 'stripe';
import { RECOMMENDED_PERMISSIONS, REQUIRED_PERMISSIONS, type Permission, type RecommendedPermission } from '../domain/stripe-keys';

/** Why a connection was refused, with what the HTTP answer should be. */
export class ConnectRefused extends Error {
  constructor(
    readonly status: 400 | 502 | 503,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ConnectRefused';
  }
}

export interface ConnectCheck {
  /** The customer pulled to prove the key reads real data (null: the account has none yet). */
  sampleCustomerId: string | null;
  verified: Permission[];
  /** Permissions that could not be proven without a write; reported, not refused. */
  unverified: Permission[];
  /** Recommended permissions the key lacks, each with what it costs; reported, not refused. */
  missingRecommended: { permission: RecommendedPermission; without: string }[];
}

/**
 * The write Wysera makes (pay out of band) aimed at an invoice that cannot exist:
 * Stripe checks the key's permission first, so `resource_missing` proves the write
 * permission without writing anything, and a permission error proves its absence.
 */
export const PROBE_INVOICE_ID = 'in_wyseraPermissionProbe';

type Probe = (stripe: Stripe) => Promise<unknown>;

const probes: Record<Permission, Probe> = {
  'customers read': (s) => s.customers.list({ limit: 1 }),
  'subscriptions read': (s) => s.subscriptions.list({ limit: 1, status: 'all' }),
  'invoices read': (s) => s.invoices.list({ limit: 1 }),
  'invoices write': (s) => s.invoices.pay(PROBE_INVOICE_ID, { paid_out_of_band: true }),
  'charges read': (s) => s.charges.list({ limit: 1 }),
  'refunds read': (s) => s.refunds.list({ limit: 1 }),
  'payment_intents read': (s) => s.paymentIntents.list({ limit: 1 }),
  'products read': (s) => s.products.list({ limit: 1 }),
  'prices read': (s) => s.prices.list({ limit: 1 }),
  'coupons read': (s) => s.coupons.list({ limit: 1 }),
};

function unreachable(err: unknown): boolean {
  return (
    err instanceof Stripe.errors.StripeConnectionError ||
    err instanceof Stripe.errors.StripeAPIError ||
    err instanceof Stripe.errors.StripeRateLimitError ||
    (err instanceof Stripe.errors.StripeError && (err.statusCode ?? 0) >= 500)
  );
}

const isRecommended = (name: Permission): name is RecommendedPermission => name in RECOMMENDED_PERMISSIONS;

/**
 * Validates a key before anything is stored: pulls one customer (proving the key,
 * the mode and the Connect account work), then probes every permission Wysera needs
 * and names each one that is missing, and each recommended one, with its cost.
 * Throws ConnectRefused: 400 for a wrong, revoked or under-privileged key (a missing
 * recommended permission alone does not refuse it), 503 when Stripe cannot be reached.
 */
export async function validateConnection(stripe: Stripe): Promise<ConnectCheck> {
  let sampleCustomerId: string | null = null;
  const missing: Permission[] = [];
  const verified: Permission[] = [];
  const unverified: Permission[] = [];
  const names: Permission[] = [...REQUIRED_PERMISSIONS, ...(Object.keys(RECOMMENDED_PERMISSIONS) as RecommendedPermission[])];
  for (const name of names) {
    try {
      const result = await probes[name](stripe);
      if (name === 'customers read') sampleCustomerId = (result as Stripe.ApiList<Stripe.Customer>).data[0]?.id ?? null;
      // A write probe that succeeded found an invoice with our probe id (only a
      // stateless stand-in such as stripe-mock does that): the permission works.
      verified.push(name);
    } catch (err) {
      if (err instanceof Stripe.errors.StripeAuthenticationError) {
        throw new ConnectRefused(400, `Stripe rejected the key as invalid or revoked: ${err.message}`, { stripeCode: err.code ?? null });
      }
      if (err instanceof Stripe.errors.StripePermissionError) {
        missing.push(name);
        continue;
      }
      if (name === 'invoices write' && err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing') {
        verified.push(name);
        continue;
      }
      if (unreachable(err)) {
        throw new ConnectRefused(503, `Stripe could not be reached to validate the key (${(err as Error).message}); nothing was stored, try again`);
      }
      if (err instanceof Stripe.errors.StripeInvalidRequestError && name !== 'invoices write') {
        // e.g. a Stripe-Account the key cannot act for.
        throw new ConnectRefused(400, `Stripe refused the request: ${err.message}`, { stripeCode: err.code ?? null });
      }
      if (name === 'invoices write') {
        unverified.push(name);
        continue;
      }
      throw err;
    }
  }
  const missingRequired = missing.filter((name) => !isRecommended(name));
  if (missingRequired.length) {
    throw new ConnectRefused(400, `the key is missing these permissions: ${missingRequired.join(', ')}; edit the restricted key in the Stripe Dashboard and grant them`, { missing: missingRequired });
  }
  const missingRecommended = missing.filter(isRecommended).map((permission) => ({ permission, without: RECOMMENDED_PERMISSIONS[permission] }));
  return { sampleCustomerId, verified, unverified, missingRecommended };
}
