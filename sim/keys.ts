import { accountInvalid, invalidApiKey, invalidRequest, missingApiKey, permissionDenied, type StripeHttpError } from './errors';

/** The resources a restricted key can be granted, named as in Stripe's dashboard. */
export const RESOURCES = ['customers', 'products', 'prices', 'coupons', 'subscriptions', 'invoices', 'charges', 'refunds', 'payment_intents', 'events', 'billing_portal'] as const;
export type Resource = (typeof RESOURCES)[number];
export type Access = 'read' | 'write';
export type Permissions = Partial<Record<Resource, Access>>;

/** Stripe's permission names (`rak_<resource>_<read|write>`), quoted in its 403 messages. */
const PERMISSION_NAME: Record<Resource, string> = {
  customers: 'customer',
  products: 'product',
  prices: 'price',
  coupons: 'coupon',
  subscriptions: 'subscription',
  invoices: 'invoice',
  charges: 'charge',
  refunds: 'refund',
  payment_intents: 'payment_intent',
  events: 'event',
  billing_portal: 'billing_portal_session',
};

export function permissionName(resource: Resource, access: Access): string {
  return `rak_${PERMISSION_NAME[resource]}_${access}`;
}

/**
 * What the project asks users to grant (mission: customers, subscriptions, invoices
 * write, charges, payment intents) plus what a full sync reads: products, prices,
 * coupons (their restrictions to products), refunds and events.
 */
export const WYSERA_PERMISSIONS: Permissions = {
  customers: 'read',
  products: 'read',
  prices: 'read',
  coupons: 'read',
  subscriptions: 'read',
  invoices: 'write',
  charges: 'read',
  refunds: 'read',
  payment_intents: 'read',
  events: 'read',
  billing_portal: 'write',
};

export interface ApiKey {
  key: string;
  /** The account the key belongs to. */
  account: string;
  /** Secret keys may do everything; restricted keys only what `permissions` grants. */
  permissions: Permissions | 'all';
  revoked: boolean;
}

export class KeyRing {
  private readonly keys = new Map<string, ApiKey>();

  add(key: ApiKey): ApiKey {
    this.keys.set(key.key, key);
    return key;
  }

  get(key: string): ApiKey | undefined {
    return this.keys.get(key);
  }

  all(): ApiKey[] {
    return [...this.keys.values()];
  }

  revoke(key: string): boolean {
    const k = this.keys.get(key);
    if (!k) return false;
    k.revoked = true;
    return true;
  }

  /** Resolves the request's key from an Authorization header (Bearer, or Basic with the key as user). */
  authenticate(header: string | undefined): ApiKey | StripeHttpError {
    if (!header) return missingApiKey();
    let token = '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header);
    const basic = /^Basic\s+(.+)$/i.exec(header);
    if (bearer) token = (bearer[1] as string).trim();
    else if (basic) token = Buffer.from(basic[1] as string, 'base64').toString('utf8').split(':')[0] ?? '';
    if (!token) return missingApiKey();
    const key = this.keys.get(token);
    if (!key) return invalidApiKey(token);
    if (key.revoked) {
      return invalidRequest(`Expired API Key provided: ${token.slice(0, 8)}*********${token.slice(-4)}`, { code: 'api_key_expired', status: 401 });
    }
    return key;
  }
}

/** The account a request acts on: the key's own, or a connected one named in Stripe-Account. */
export function targetAccount(key: ApiKey, header: string | undefined, connectedTo: (platform: string) => readonly string[]): string | StripeHttpError {
  if (!header || header === key.account) return key.account;
  if (connectedTo(key.account).includes(header)) return header;
  return accountInvalid(key.key, header);
}

export function checkPermission(key: ApiKey, account: string, resource: Resource, access: Access): StripeHttpError | null {
  if (key.permissions === 'all') return null;
  const granted = key.permissions[resource];
  // Write implies read, as in Stripe.
  if (granted === 'write' || (granted === 'read' && access === 'read')) return null;
  return permissionDenied(key.key, account, permissionName(resource, access));
}
