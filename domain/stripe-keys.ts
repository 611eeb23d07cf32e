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
  // A discount's coupon: its restriction to products, and an item's own discount's terms, which a renewal quote applies.
  'coupons read',
] as const;

export type Permission = (typeof REQUIRED_PERMISSIONS)[number];

export const RESTRICTED_KEY_HELP =
  'Create a restricted key in the Stripe Dashboard (Developers > API keys > Create restricted key) with these permissions: ' +
  'Customers: Read; Subscriptions: Read; Invoices: Write (read and write; the only write Wysera makes is marking an invoice paid out of band); ' +
  'Charges: Read; Refunds: Read; PaymentIntents: Read; Products: Read; Prices: Read; Coupons: Read. Leave everything else at None, then paste the rk_live_... key.';

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
