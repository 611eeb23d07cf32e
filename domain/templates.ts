import { CycleTag, EchoTag, Filter, Liquid, Output, Tokenizer, toValueSync, Value, type FilterImplOptions, type Template } from 'liquidjs';
import { minorUnitsPer } from './currency-units';

/**
 * Email templates of every play: subject, HTML and plain-text parts written in
 * Liquid (liquidjs), rendered against the facts a draft cites. Workspaces may
 * override any template; an override is checked here before it is stored, and a
 * problem is reported with its part, line and column.
 */
export interface EmailTemplate {
  subject: string;
  html: string;
  text: string;
}

export type TemplatePart = keyof EmailTemplate;

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface TemplateProblem {
  part: TemplatePart;
  line: number | null;
  column: number | null;
  message: string;
}

export class TemplateError extends Error {
  constructor(readonly problems: TemplateProblem[]) {
    super(problems.map((p) => `${p.part}${p.line === null ? '' : ` line ${p.line}, column ${p.column}`}: ${p.message}`).join('; '));
    this.name = 'TemplateError';
  }
}

const currencyFormat = (currency: string) => new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });

/** Formats integer minor units as money, e.g. (12345, 'usd') -> "$123.45", (500, 'jpy') -> "¥500". */
export function formatMoney(amount: number, currency: string): string {
  return currencyFormat(currency).format(amount / minorUnitsPer(currency));
}

/** What liquid writes for a value it prints: strings as they are, lists joined (their nulls as nothing, as liquid writes them). */
const printedText = (value: unknown): string =>
  typeof value === 'string' ? value : Array.isArray(value) ? value.map((v: unknown) => (v === null || v === undefined ? '' : printedText(v))).join('') : String(value);

/**
 * Every printed value passes here last (liquid's outputEscape). A null fact printed bare
 * fails the render, as a missing one does: liquid would print nothing, and a customer
 * would read "Your  plan renews". A workspace's override that does so falls back to
 * the built-in template, whose facts that can be null are each inside an {% if %}.
 */
function printed(escapeHtml: boolean) {
  return (value: unknown): string => {
    refuseNull(value);
    return escapeHtml ? escapeHtmlText(printedText(value)) : printedText(value);
  };
}

function refuseNull(value: unknown): void {
  if (value === null || value === undefined) throw new Error('nothing to print here: this fact is null for this customer (put it inside {% if %}, or give it a | default)');
}

/**
 * A value printed through `| raw` skips liquid's outputEscape, `printed` with it: so
 * `{{ plan.name | raw }}` would print a null as nothing. Each printed value whose last
 * filter is `raw` ({{ }}, {% echo %}, {% cycle %}, inside any block) is given this
 * filter after it, raw too (so still unescaped), to refuse a null as `printed` does.
 * Only there: `raw` elsewhere (`| raw | default: ...`, an {% assign %}) passes a null on
 * as every filter does. Its name cannot be written in a template.
 */
const RAW_PRINTED = 'raw printed';
const rawPrinted: FilterImplOptions = {
  raw: true,
  handler: (value: unknown) => {
    refuseNull(value);
    return value;
  },
};
const rawPrintedToken = () => Object.assign(new Tokenizer('_ | raw').readFilteredValue().filters[0]!, { name: RAW_PRINTED });
const endsRaw = (names: readonly string[]) => names.at(-1) === 'raw';

function checkRawPrints(liquid: Liquid, templates: Template[]): Template[] {
  for (const t of templates) {
    if (t.children) checkRawPrints(liquid, toValueSync(t.children(false, true)));
    if (t instanceof Output || t instanceof EchoTag) {
      for (const v of t.arguments()) if (v instanceof Value && endsRaw(v.filters.map((f) => f.name))) v.filters.push(new Filter(rawPrintedToken(), rawPrinted, liquid));
    } else if (t instanceof CycleTag) {
      // A cycle makes its values from these tokens at each render.
      for (const c of t.arguments()) if (!(c instanceof Value) && 'filters' in c && endsRaw(c.filters.map((f) => f.name))) c.filters.push(rawPrintedToken());
    }
  }
  return templates;
}

/** HTML-escapes as liquid's `escape` does, entity for entity (domain/redaction.ts finds cited text in its escaped form). */
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
export const escapeHtmlText = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * liquid's filters, but `default` (the way to print a fact that may be null) and ours:
 * given a null, each passes it on as null, rather than making '' or text of it
 * (`{{ plan.name | append: ' plan' }}` gave " plan", `| date` '', `| plus: 1` 1), so the
 * last check of printed values (`printed`) still sees the null, while a `| default`
 * further on, an `{% if %}` or an `{% assign %}` reads it as before.
 */
const NULL_AWARE_FILTERS = new Set(['default']);

function passingNull(impl: FilterImplOptions): FilterImplOptions {
  const handler = typeof impl === 'function' ? impl : impl.handler;
  const passing: typeof handler = function (this: ThisParameterType<typeof handler>, value: unknown, ...args: unknown[]): unknown {
    return value === null || value === undefined ? value : (handler.call(this, value, ...args) as unknown);
  };
  return typeof impl === 'function' ? passing : { ...impl, handler: passing };
}

function engine(escapeHtml: boolean): Liquid {
  const liquid = new Liquid({
    strictFilters: true,
    // A misspelt fact fails the preview instead of rendering an empty string to a customer.
    strictVariables: true,
    ownPropertyOnly: true,
    // In-memory lookup only: an {% include %} in a workspace template can never read the disk.
    templates: {},
    // A workspace's template cannot hold the process: a loop up to an amount, or over a huge
    // range, fails its render (and so its check) rather than allocating or spinning for ever.
    renderLimit: 2_000,
    memoryLimit: 10_000_000,
    outputEscape: printed(escapeHtml),
  });
  for (const [name, impl] of Object.entries(liquid.filters)) if (!NULL_AWARE_FILTERS.has(name)) liquid.registerFilter(name, passingNull(impl));
  liquid.registerFilter(RAW_PRINTED, rawPrinted);
  liquid.registerFilter('money', (value: unknown) => {
    if (typeof value === 'object' && value !== null && 'amount' in value && 'currency' in value) {
      const { amount, currency } = value;
      if (typeof amount === 'number' && typeof currency === 'string') return formatMoney(amount, currency);
      // An amount the caller may not see, replaced by its marker (domain/redaction.ts hideMoneyFacts).
      if (typeof amount === 'string' && typeof currency === 'string') return amount;
    }
    // An amount a draft's facts do not know (a price the mirror cannot work out) fails the render, as a
    // missing fact does, so a customer never reads "at  per year": an override falls back to the
    // built-in template, whose amounts that can be unknown are each inside an {% if %}.
    if (value === null || value === undefined) throw new Error('money: no amount here (this fact is null for this customer; put it inside {% if %})');
    return '';
  });
  liquid.registerFilter('date_utc', (value: unknown) => {
    // A date the customer's facts do not have stays null, for the printed-value check to refuse.
    if (value === null || value === undefined) return value;
    if (typeof value !== 'string') return '';
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  });
  return liquid;
}

const plain = engine(false);
const html = engine(true);
const engineFor = (part: TemplatePart) => (part === 'html' ? html : plain);

function problemOf(part: TemplatePart, err: unknown): TemplateProblem {
  const e = err as { token?: { getPosition?: () => number[] }; message?: string; originalError?: Error };
  const position = e.token?.getPosition?.();
  // liquidjs appends ", line:1, col:2" to its messages; the position is reported separately.
  const message = (e.originalError?.message ?? e.message ?? String(err)).replace(/, line:\d+, col:\d+$/, '').split('\n')[0]!;
  return { part, line: position?.[0] ?? null, column: position?.[1] ?? null, message };
}

/**
 * Renders a template with the given facts. Throws TemplateError with every part's
 * problem (syntax errors, unknown filters, facts the template names but does not have).
 */
export function renderTemplate(template: EmailTemplate, facts: object): RenderedEmail {
  const problems: TemplateProblem[] = [];
  const out: Partial<RenderedEmail> = {};
  for (const part of ['subject', 'html', 'text'] as const) {
    try {
      const liquid = engineFor(part);
      out[part] = liquid.renderSync(checkRawPrints(liquid, liquid.parse(template[part])), facts) as string;
    } catch (err) {
      problems.push(problemOf(part, err));
    }
  }
  if (problems.length) throw new TemplateError(problems);
  const subject = out.subject!.replace(/\s+/g, ' ').trim();
  if (!subject) throw new TemplateError([{ part: 'subject', line: null, column: null, message: 'renders to an empty subject' }]);
  return { subject, html: out.html!, text: out.text! };
}

/** Checks a template against example facts of its play: the problems, empty when it is usable. */
export function templateProblems(template: EmailTemplate, exampleFacts: object): TemplateProblem[] {
  try {
    renderTemplate(template, exampleFacts);
    return [];
  } catch (err) {
    if (err instanceof TemplateError) return err.problems;
    throw err;
  }
}
