/** CSV export of metric points: nested objects become dotted columns, nulls empty cells. */
function flatten(value: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) flatten(v as Record<string, unknown>, key, out);
    else out[key] = v;
  }
  return out;
}

/**
 * Text a spreadsheet would run as a formula (=, +, -, @, or a tab or carriage return
 * first). Customers' names and emails come from Stripe, where anyone who signs up
 * types them, so a CSV opened by finance must not run them: such text gets a leading
 * apostrophe, which spreadsheets read as "this is text". Numbers are never text here.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (v instanceof Date) s = v.toISOString();
  else if (typeof v === 'string') s = FORMULA_START.test(v) ? `'${v}` : v;
  else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') s = v.toString();
  else s = JSON.stringify(v) ?? '';
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const flat = rows.map((r) => flatten(r));
  const columns: string[] = [];
  for (const r of flat) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  return [columns.join(','), ...flat.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}
