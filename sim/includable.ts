/**
 * Fields Stripe leaves out of an object unless a request asks for them with `expand`
 * ("includable"). A price's (and its plan's) `tiers` are kept on the stored object,
 * since they bill its invoices and in-process readers see the account whole, and left
 * out wherever the simulator answers (API responses, event payloads) unless the
 * request expanded them. An invoice's `payments` is includable too, but is never
 * stored: expanding it builds it (sim/expand.ts).
 *
 * Field -> the objects it is includable on (looked up by field first: answers ask it of every key they hold).
 */
const INCLUDABLE: ReadonlyMap<string, readonly string[]> = new Map([
  ['tiers', ['price', 'plan']],
  ['payments', ['invoice']],
]);

/** Values a request expanded, which are answered; identity, so a copy of a stored object stays left out. */
const asked = new WeakSet<object>();

export function isIncludable(node: unknown, field: string): boolean {
  const kinds = INCLUDABLE.get(field);
  if (!kinds || typeof node !== 'object' || node === null) return false;
  const kind = (node as { object?: unknown }).object;
  return typeof kind === 'string' && kinds.includes(kind);
}

/** Marks a value a request expanded, so that it is answered. */
export function included<T extends object>(value: T): T {
  asked.add(value);
  return value;
}

/** Whether `holder[key]` is an includable field nobody asked for, to be left out of an answer. */
export function leftOut(holder: unknown, key: string, value: unknown): boolean {
  return isIncludable(holder, key) && !(typeof value === 'object' && value !== null && asked.has(value));
}
