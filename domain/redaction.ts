import { z } from 'zod';
import { canSeeRevenue, ROLES, roleAtLeast, type Role } from './roles';
import { escapeHtmlText, formatMoney, renderTemplate } from './templates';

/**
 * Field-level redaction: one rule for every response (JSON and CSV alike). A hidden
 * field keeps its key with a null value, so clients and CSV columns keep their shape
 * and a hidden figure is never mistaken for a zero.
 */

/** Revenue fields, wherever they appear (metrics, drill-downs, draft facts, dunning reports). */
export const REVENUE_FIELDS: ReadonlySet<string> = new Set([
  // MRR and its movements
  'mrr', 'startMrr', 'endMrr', 'retainedMrr', 'initialMrr', 'mrrBefore', 'mrrAfter',
  'new', 'expansion', 'contraction', 'churn', 'reactivation', 'net', 'gained', 'lost', 'original',
  // per-account figures
  'arpa', 'ltv', 'planValue', 'monthlyValue', 'revenue',
  // invoice and payment amounts (not a bare `total`: step.total counts dunning steps)
  'amount', 'amountDue', 'amountPaid', 'amountRemaining', 'unitAmount', 'failedAmount', 'recoveredAmount',
  // a plan's price per month (product mapping), as unitAmount is a price's
  'monthlyAmount',
]);

/**
 * Objects under these keys hold counts named like movements (`counts.new`) or like
 * money (a plan's `limits.revenue`, a metric an owner named): never money.
 */
const COUNT_PARENTS: ReadonlySet<string> = new Set(['counts', 'limits']);

const FIELD = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A workspace's own redaction: more fields hidden from the roles below `visibleTo`. */
export const redactionSettingSchema = z.strictObject({
  fields: z
    .array(z.string().regex(FIELD, 'a field name: a letter, then letters, digits or _ (at most 64)'))
    .max(200)
    .refine((f) => new Set(f).size === f.length, 'each field once'),
  /** The least role that still sees these fields (default finance, like revenue). */
  visibleTo: z.enum(ROLES).default('finance'),
});
export type RedactionSetting = z.infer<typeof redactionSettingSchema>;

export const DEFAULT_REDACTION_SETTING: RedactionSetting = { fields: [], visibleTo: 'finance' };

/** Reads a stored setting; a stored value that no longer validates hides nothing extra. */
export function parseRedactionSetting(raw: unknown): RedactionSetting {
  const parsed = redactionSettingSchema.safeParse(raw ?? DEFAULT_REDACTION_SETTING);
  return parsed.success ? parsed.data : DEFAULT_REDACTION_SETTING;
}

/** What one caller may not see. */
export interface RedactionPolicy {
  revenue: boolean;
  fields: ReadonlySet<string>;
}

export function redactionPolicy(role: Role, setting: RedactionSetting = DEFAULT_REDACTION_SETTING): RedactionPolicy {
  return { revenue: !canSeeRevenue(role), fields: roleAtLeast(role, setting.visibleTo) ? new Set() : new Set(setting.fields) };
}

/** The policy of roles without revenue and without workspace extras (e.g. for pure tests). */
export const REVENUE_HIDDEN: RedactionPolicy = { revenue: true, fields: new Set() };

export const hidesAnything = (p: RedactionPolicy) => p.revenue || p.fields.size > 0;

const isMoney = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && 'amount' in v && 'currency' in v;

/**
 * A copy of `value` with every hidden field set to null. A hidden revenue field that
 * holds Money ({amount, currency}) is descended into instead, so the currency stays
 * and only the amount goes; any other value under a revenue key (a per-currency map
 * such as `original: {eur: -100}`) goes whole.
 */
export function redact<T>(value: T, policy: RedactionPolicy): T {
  if (!hidesAnything(policy)) return value;
  const walk = (v: unknown, parent: string | undefined): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, parent));
    if (v === null || typeof v !== 'object' || v instanceof Date) return v;
    const counts = parent !== undefined && COUNT_PARENTS.has(parent);
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        if (policy.fields.has(k)) return [k, null];
        const revenue = policy.revenue && !counts && REVENUE_FIELDS.has(k);
        if (revenue && !isMoney(x)) return [k, null];
        return [k, walk(x, k)];
      }),
    );
  };
  return walk(value, undefined) as T;
}

/** What a cited amount reads as in a draft's text for a caller who may not see it. */
export const HIDDEN_AMOUNT = '[amount hidden]';

function moneyIn(value: unknown, out: { amount: number; currency: string }[] = []): { amount: number; currency: string }[] {
  if (Array.isArray(value)) value.forEach((v) => moneyIn(v, out));
  else if (value !== null && typeof value === 'object') {
    const { amount, currency } = value as { amount?: unknown; currency?: unknown };
    if (typeof amount === 'number' && typeof currency === 'string') out.push({ amount, currency });
    else Object.values(value).forEach((v) => moneyIn(v, out));
  }
  return out;
}

/**
 * Facts with every amount (an object with a numeric `amount` and a `currency`) replaced
 * by `to(n)`, n counting the amounts in the order they are met.
 */
function withAmounts(value: unknown, to: (n: number) => string | number, counter = { n: 0 }): unknown {
  if (Array.isArray(value)) return value.map((v) => withAmounts(v, to, counter));
  if (value === null || typeof value !== 'object') return value;
  const { amount, currency } = value as { amount?: unknown; currency?: unknown };
  if (typeof amount === 'number' && typeof currency === 'string') return { ...value, amount: to(counter.n++) };
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withAmounts(v, to, counter)]));
}

/**
 * Facts whose every amount reads HIDDEN_AMOUNT (its currency kept), for rendering a
 * template for a caller who may not see revenue: the `money` filter writes such an
 * amount as it is, and so does a template that prints `.amount` itself, which no
 * search of the rendered text for formatted amounts would find.
 */
export const hideMoneyFacts = <T>(facts: T): T => withAmounts(facts, () => HIDDEN_AMOUNT) as T;

/**
 * Probes for printsRawAmount: the n-th amount of the facts in each render. Each render
 * gives every amount its own value, in the same order (so comparisons between amounts
 * take the same branch) but at other distances (so a difference or a ratio printed
 * differs), and one render has whole units (so `| money | replace: ".00", ""` shows).
 * Seven digits: `money` writes them with a comma, and a loop up to one stays small.
 */
const PROBES: readonly ((n: number) => number)[] = [(n) => 7_391_739 + n * 10_007, (n) => 2_648_263 + n * 30_011, (n) => 5_120_000 + n * 20_000];

/**
 * Whether a template prints anything of its facts' amounts other than through the
 * `money` filter (`{{ invoice.amountDue.amount }}`, arithmetic on it, or money's text
 * reworked): a draft's text is hidden from roles that may not see revenue by finding
 * its facts' amounts as `money` writes them (hideCitedAmounts), which such a figure
 * escapes. Rendered once per probe: with what `money` wrote of the probes taken out,
 * the renders read the same unless an amount got out some other way. A template the
 * probes cannot render counts as printing one: it cannot be shown not to.
 */
export function printsRawAmount(template: { subject: string; html: string; text: string }, facts: object): boolean {
  const readWith = (probe: (n: number) => number): string | null => {
    const probed = withAmounts(facts, probe);
    try {
      const r = renderTemplate(template, probed as object);
      // What money wrote of the probes reads HIDDEN_AMOUNT, as the drafts' redaction would make it.
      return hideCitedAmounts([r.subject, r.html, r.text].join('\n'), probed);
    } catch {
      return null;
    }
  };
  const reads = PROBES.map(readWith);
  return reads.some((r) => r === null || r !== reads[0]);
}

/**
 * A draft's subject and bodies repeat the money of its facts, formatted as the
 * templates' `money` filter formats it; for a caller who may not see revenue each
 * such amount reads HIDDEN_AMOUNT, so the email hides what its facts hide. Amounts a
 * person typed into an edit are not facts and are not found.
 */
export function hideCitedAmounts(text: string, facts: unknown): string {
  const cited = [...new Set(moneyIn(facts).map((m) => formatMoney(m.amount, m.currency)))].sort((a, b) => b.length - a.length);
  return cited.reduce((t, amount) => t.split(amount).join(HIDDEN_AMOUNT), text);
}

/** What a draft's text reads where it repeated a fact the caller's role may not see. */
export const HIDDEN_FACT = '[hidden]';
/** The fields that hide the product's activity, and so a draft's usage summary. */
const ACTIVITY_FIELDS = ['activity', 'usage'];
/** Whether a role's hidden fields hide the product's activity (usage, logins) from it. */
export const hidesActivity = (hiddenFields: ReadonlySet<string>) => ACTIVITY_FIELDS.some((f) => hiddenFields.has(f));

/**
 * A draft's text as a role reads it where the workspace hides the product's activity
 * from it: the usage summary its facts cite ("1,240 reports generated in the last 30
 * days") reads HIDDEN_FACT, in the plain and the HTML-escaped form, as the facts'
 * `usage` does. Text a person typed into an edit is not a fact and is not found.
 */
export function hideCitedActivity(text: string, facts: unknown, hiddenFields: ReadonlySet<string>): string {
  const summary = (facts as { usage?: { summary?: unknown } | null } | null)?.usage?.summary;
  if (typeof summary !== 'string' || !summary || !hidesActivity(hiddenFields)) return text;
  const escaped = escapeHtmlText(summary);
  return [summary, escaped].reduce((t, s) => t.split(s).join(HIDDEN_FACT), text);
}

/** A draft's facts without the usage summary where the workspace hides the product's activity from the caller. */
export function hideActivityFacts(facts: Record<string, unknown>, hiddenFields: ReadonlySet<string>): Record<string, unknown> {
  return facts.usage && hidesActivity(hiddenFields) ? { ...facts, usage: null } : facts;
}
