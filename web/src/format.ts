/**
 * How figures read on the pages. Money arrives as integer minor units with a
 * currency; a figure the caller may not see arrives as null and reads "Hidden",
 * never as 0.
 */
import { minorUnitsPer } from '../../domain/currency-units';
import type { PriceBasis } from '../../domain/price-amount';
import { formatCount } from '../../domain/product-activity';

export { secondsInWords } from '../../domain/durations';

export const HIDDEN = 'Hidden';
export const NONE = '—';

const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string, compact: boolean): Intl.NumberFormat {
  const key = `${currency}:${compact ? 'c' : 'f'}`;
  let f = moneyFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase(), ...(compact ? { notation: 'compact', maximumFractionDigits: 1 } : {}) });
    moneyFormats.set(key, f);
  }
  return f;
}

export function money(amount: number | null | undefined, currency: string, opts: { hidden?: boolean; compact?: boolean; signed?: boolean } = {}): string {
  if (amount === null || amount === undefined) return opts.hidden ? HIDDEN : NONE;
  const text = moneyFormat(currency, opts.compact ?? false).format(amount / minorUnitsPer(currency));
  return opts.signed && amount > 0 ? `+${text}` : text;
}

/**
 * A plan's entry price a month with what it buys, so that neither a package's amount
 * nor a first tier's reads as the plan's flat price: "$15.00/mo" (a unit),
 * "$200.00 per 10 units/mo" (a package; the note tells how a part package bills),
 * "$45.00/mo for 1 unit" (by tiers; the note names them).
 */
export function entryPriceText(amount: number, currency: string, basis: PriceBasis | null): { price: string; note: string | null } {
  const each = money(amount, currency);
  if (basis === null || basis.per === 'unit') return { price: `${each}/mo`, note: null };
  if (basis.per === 'package') {
    const { units, round } = basis;
    const note = round === 'up' ? `rounded up: ${formatCount(units + 1)} units bill as 2 packages` : `rounded down: ${formatCount(2 * units - 1)} units bill as 1 package`;
    return { price: `${each} per ${formatCount(units)} units/mo`, note };
  }
  return { price: `${each}/mo for 1 unit`, note: basis.mode === 'volume' ? "volume tiers: the quantity's tier prices every unit" : 'graduated tiers: each tier prices its own units' };
}

export function percent(ratio: number | null | undefined, opts: { hidden?: boolean; digits?: number } = {}): string {
  if (ratio === null || ratio === undefined) return opts.hidden ? HIDDEN : NONE;
  return `${(ratio * 100).toFixed(opts.digits ?? 1)}%`;
}

export function count(n: number | null | undefined, opts: { hidden?: boolean } = {}): string {
  if (n === null || n === undefined) return opts.hidden ? HIDDEN : NONE;
  return formatCount(n);
}

export function ratio(n: number | null | undefined, opts: { hidden?: boolean } = {}): string {
  if (n === null || n === undefined) return opts.hidden ? HIDDEN : NONE;
  return n.toFixed(2);
}

const monthNames = new Intl.DateTimeFormat('en-US', { month: 'short', timeZone: 'UTC' });
const monthYear = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

const monthDate = (period: string) => new Date(`${period}-01T00:00:00Z`);

/** "Jan", with the year where it changes or starts: "Jan '25". */
export function shortMonth(period: string, withYear: boolean): string {
  if (!/^\d{4}-\d{2}$/.test(period)) return period;
  const name = monthNames.format(monthDate(period));
  return withYear ? `${name} '${period.slice(2, 4)}` : name;
}

/** "January 2025". */
export function longMonth(period: string): string {
  return /^\d{4}-\d{2}$/.test(period) ? monthYear.format(monthDate(period)) : period;
}


export function when(iso: string | null | undefined): string {
  if (!iso) return NONE;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${dateTime.format(d)} UTC`;
}

/** "YYYY-MM" of a month relative to now (0: this month, -1: last month), in UTC. */
export function monthFromNow(offset: number, now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}
