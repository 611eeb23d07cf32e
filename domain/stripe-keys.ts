/**
 * Which Stripe keys a workspace may be connected with. Wysera needs only read access
 * (plus invoice writes for "mark paid out of band"), so a full-access live secret
 * key is refused: a restricted key limits what a leaked credential could do.
 */
export type KeyCheck = { ok: true; livemode: boolean; kind: 'restricted' | 'secret' } | { ok: false; message: string };

/** The permissions a restricted key needs, as Stripe's dashboard names them. */
export const REQUIRED_PERMISSIONS = [
  'customers read',
  'subscriptions read',
  'invoices read',
  'invoices write',
  'charges read',
  'refunds read',
  'payment_intents read',
  'products read',
  'prices read',
] as const;

/**
 * Permissions Wysera works without, each with what their absence costs: a key lacking
 * one is connected all the same and the answer names it. Coupons: Read is asked for
 * since keys made before Wysera read coupons lack it; refusing them would cut every
 * such workspace off for the sake of a few renewal quotes.
 */
export const RECOMMENDED_PERMISSIONS = {
  // A discount's coupon: its restriction to products, and an item's own discount's terms.
  'coupons read':
    "renewal quotes of subscriptions with a coupon restricted to products, or with an item's own discount, read \"before discounts\": the coupons' restrictions and the items' discount terms cannot be read",
} as const;

export type RequiredPermission = (typeof REQUIRED_PERMISSIONS)[number];
export type RecommendedPermission = keyof typeof RECOMMENDED_PERMISSIONS;
export type Permission = RequiredPermission | RecommendedPermission;

export const RESTRICTED_KEY_HELP =
  'Create a restricted key in the Stripe Dashboard (Developers > API keys > Create restricted key) with these permissions: ' +
  'Customers: Read; Subscriptions: Read; Invoices: Write (read and write; the only write Wysera makes is marking an invoice paid out of band); ' +
  'Charges: Read; Refunds: Read; PaymentIntents: Read; Products: Read; Prices: Read; and, recommended, Coupons: Read (without it renewal quotes with product-restricted coupons or item discounts read "before discounts"). Leave everything else at None, then paste the rk_live_... key.';

export function checkStripeKey(key: string): KeyCheck {
  if (/^sk_live_/.test(key)) {
    return { ok: false, message: `full-access live secret keys (sk_live_...) are refused: Wysera needs only a few permissions. ${RESTRICTED_KEY_HELP}` };
  }
  const m = /^(rk|sk)_(live|test)_[A-Za-z0-9]+$/.exec(key);
  if (!m) {
    return { ok: false, message: 'must be a Stripe restricted key (rk_live_... or rk_test_...) or a test secret key (sk_test_...); publishable keys (pk_...) and webhook secrets do not work here' };
  }
  return { ok: true, livemode: m[2] === 'live', kind: m[1] === 'rk' ? 'restricted' : 'secret' };
}
