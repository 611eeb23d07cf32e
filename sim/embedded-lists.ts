import { leftOut } from './includable';

/**
 * Stripe embeds only the first items of a list that lives inside an object (an
 * invoice's `lines`, a subscription's `items`, a charge's `refunds`): `has_more` then
 * says the rest must be fetched from the list's own `url`. The simulator stores whole
 * lists and cuts them where it answers (API responses and event payloads), so clients
 * meet truncated lists as they would from Stripe.
 */
export const EMBEDDED_LIST_ITEMS = 10;

interface ListObject {
  object: 'list';
  data: unknown[];
  has_more: boolean;
}

const isList = (v: unknown): v is ListObject =>
  typeof v === 'object' && v !== null && (v as { object?: unknown }).object === 'list' && Array.isArray((v as { data?: unknown }).data);

/**
 * JSON.stringify replacer that cuts embedded lists and leaves out includable fields
 * nobody expanded (sim/includable.ts). The root (key '') is left whole: a list
 * answered on its own is a page, already cut by its `limit`.
 */
function embeddedListReplacer(this: unknown, key: string, value: unknown): unknown {
  if (leftOut(this, key)) return undefined;
  if (key === '' || !isList(value) || value.data.length <= EMBEDDED_LIST_ITEMS) return value;
  return { ...value, data: value.data.slice(0, EMBEDDED_LIST_ITEMS), has_more: true };
}

/** JSON text of a Stripe answer or event, its embedded lists cut and its unasked includable fields left out, as Stripe's are. */
export function stripeJson(value: unknown): string {
  return JSON.stringify(value, embeddedListReplacer);
}
