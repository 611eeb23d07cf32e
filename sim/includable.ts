/**
 * Fields Stripe leaves out of an object unless a request asks for them with `expand`
 * ("includable"). A price's (and its plan's) `tiers` are kept on the stored object,
 * since they bill its invoices and in-process readers see the account whole, and left
 * out wherever the simulator answers (API responses, event payloads) unless the
 * request expanded them. A coupon's `applies_to` (the products it is restricted to)
 * likewise, stored on a restricted coupon only: expanded on one without, it is null.
 * An invoice's `payments` is includable too, but is never stored: expanding it builds
 * it (sim/expand.ts).
 *
 * Field -> the objects it is includable on (looked up by field first: answers ask it of every key they hold).
 */
const INCLUDABLE: ReadonlyMap<string, readonly string[]> = new Map([
  ['tiers', ['price', 'plan']],
  ['payments', ['invoice']],
  ['applies_to', ['coupon']],
]);

/**
 * The includable fields a request expanded, by the object holding them (the answer's
 * copy, never a stored object: identity, so a copy of a stored object stays left out).
 * By holder rather than by value, as an expanded field may be null.
 */
const asked = new WeakMap<object, Set<string>>();

export function isIncludable(node: unknown, field: string): boolean {
  const kinds = INCLUDABLE.get(field);
  if (!kinds || typeof node !== 'object' || node === null) return false;
  const kind = (node as { object?: unknown }).object;
  return typeof kind === 'string' && kinds.includes(kind);
}

/** Marks a field of an answer's object that a request expanded, so that it is answered. */
export function included(holder: object, field: string): void {
  const fields = asked.get(holder) ?? new Set<string>();
  fields.add(field);
  asked.set(holder, fields);
}

/** Whether `holder[key]` is an includable field nobody asked for, to be left out of an answer. */
export function leftOut(holder: unknown, key: string): boolean {
  return isIncludable(holder, key) && !(asked.get(holder as object)?.has(key) ?? false);
}
