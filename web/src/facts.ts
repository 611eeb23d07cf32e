/** How the facts a draft cites read on its page: labels from their paths, values as text. */
import { NONE, when } from './format';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** One value: a time in words, a number or flag as is, nothing as a dash, anything else as JSON. */
export function scalar(v: unknown): string {
  if (typeof v === 'string') return ISO_TIME.test(v) ? when(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === null || v === undefined ? NONE : JSON.stringify(v);
}

/**
 * One entry of a listed fact: a value as `scalar` gives it; an entry that says itself
 * in words (a risk reason's `text`) by those words and its points, not as JSON.
 */
function listEntry(v: unknown): string {
  if (typeof v !== 'object' || v === null) return scalar(v);
  const { text, points } = v as { text?: unknown; points?: unknown };
  if (typeof text !== 'string') return scalar(v);
  return typeof points === 'number' ? `${text} (${points} points)` : text;
}

/** A listed fact: values on one line, entries of their own (risk reasons) one a line. */
export function listedFact(values: readonly unknown[]): string {
  return values.map(listEntry).join(values.some((v) => typeof v === 'object' && v !== null) ? '\n' : ', ');
}

/** "plan.monthlyValue" -> "Plan · monthly value". */
export function factLabel(path: string): string {
  const words = path.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase());
  const text = words.join(' · ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
