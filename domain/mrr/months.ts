/** Calendar months in UTC as integers (year * 12 + month0), so they add and compare. */
export type MonthIndex = number;

export const monthOf = (t: number | Date): MonthIndex => {
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};

export const monthStart = (m: MonthIndex): number => Date.UTC(Math.floor(m / 12), m % 12, 1);

export const monthLabel = (m: MonthIndex): string => `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}`;

/** Parses YYYY-MM. */
export function parseMonth(label: string): MonthIndex {
  const match = /^(\d{4})-(\d{2})$/.exec(label);
  if (!match) throw new Error(`not a month (YYYY-MM): ${label}`);
  const month = Number(match[2]);
  if (month < 1 || month > 12) throw new Error(`not a month (YYYY-MM): ${label}`);
  return Number(match[1]) * 12 + month - 1;
}
