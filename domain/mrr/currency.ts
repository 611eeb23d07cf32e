import { minorUnitExponent } from '../currency-units';

/**
 * Conversion to the reporting currency with stored, dated rates. A rate says how many
 * major units of the reporting currency one major unit of `currency` bought on `on`
 * (a UTC day, YYYY-MM-DD). Amounts stay integer minor units on both sides.
 */
export interface ExchangeRate {
  currency: string;
  on: string;
  rate: number;
}


export class MissingExchangeRateError extends Error {
  constructor(readonly currency: string, readonly reportingCurrency: string) {
    super(`no exchange rate from ${currency} to ${reportingCurrency}`);
    this.name = 'MissingExchangeRateError';
  }
}

export interface Converter {
  readonly reportingCurrency: string;
  /** `amount` minor units of `currency` at time `at`, in reporting minor units. */
  convert(amount: number, currency: string, at: number): number;
}

/**
 * Uses the latest rate on or before the day of `at`; before the first stored rate,
 * the first one (history older than the rate table still converts).
 */
export function createConverter(reportingCurrency: string, rates: readonly ExchangeRate[]): Converter {
  const reporting = reportingCurrency.toLowerCase();
  const byCurrency = new Map<string, ExchangeRate[]>();
  for (const r of rates) {
    const c = r.currency.toLowerCase();
    const list = byCurrency.get(c) ?? [];
    list.push(r);
    byCurrency.set(c, list);
  }
  for (const list of byCurrency.values()) list.sort((a, b) => (a.on < b.on ? -1 : a.on > b.on ? 1 : 0));
  return {
    reportingCurrency: reporting,
    convert(amount, currency, at) {
      const from = currency.toLowerCase();
      if (from === reporting || amount === 0) return amount;
      const list = byCurrency.get(from);
      if (!list || list.length === 0) throw new MissingExchangeRateError(from, reporting);
      const day = new Date(at).toISOString().slice(0, 10);
      let chosen = list[0]!;
      for (const r of list) {
        if (r.on <= day) chosen = r;
        else break;
      }
      const scale = 10 ** (minorUnitExponent(reporting) - minorUnitExponent(from));
      return Math.round(amount * chosen.rate * scale);
    },
  };
}
