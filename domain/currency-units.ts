/**
 * How many minor units make one major unit of a currency, as Stripe counts them in
 * API amounts (docs.stripe.com/currencies). Not Intl's count of decimals: Stripe
 * keeps ISK and HUF at two decimals in amounts (for backwards compatibility, whole
 * units times 100), though Intl writes them without. No imports: the web pages use it.
 */

/** Amounts in whole units. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
/** Amounts in thousandths. */
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** Decimals of an amount: 2 for usd (and isk, huf), 0 for jpy, 3 for bhd. */
export function minorUnitExponent(currency: string): number {
  const c = currency.trim().toLowerCase();
  return ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
}

/** Minor units in one major unit: 100 for usd (and isk, huf), 1 for jpy, 1000 for bhd. */
export const minorUnitsPer = (currency: string): number => 10 ** minorUnitExponent(currency);
