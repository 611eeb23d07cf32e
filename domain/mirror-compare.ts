/**
 * Whether a webhook event's copy of a Stripe object can be trusted against what the
 * mirror already holds. Stripe's event `created` has a one-second resolution, so two
 * states of one object produced in the same second carry the same time, and the
 * mirror's "newest state wins" cannot tell which is current.
 */

/**
 * - `stale`: the mirror holds state from a later second; the event changes nothing.
 * - `doubt`: the event alone cannot give the current state; ask Stripe.
 * - `clear`: apply the event as the state of its time.
 */
export type MirrorVerdict = 'stale' | 'doubt' | 'clear';

export interface MirrorVerdictInput {
  /** Stripe's `event.created` as a time (whole seconds). */
  eventAt: Date;
  /** When the mirror's state of the object is from; null when it is not mirrored yet. */
  storedAt: Date | null;
  /**
   * When the stored state is a read's (db/mirror.ts ReadTime), the read happened before
   * this; null when it is an event's (from the second of `storedAt`).
   */
  storedUntil: Date | null;
  /**
   * The event's object is not the object's full state: a truncated embedded list
   * (`has_more`), or a discount the mirror holds no terms for.
   */
  truncated: boolean;
  /** Only asked when the stored state may be from after the event began (its second, or a read's window): do the contents differ? */
  differs: () => Promise<boolean>;
}

/** The start of the second an event was stamped in (ms): Stripe's `created` has no finer resolution. */
export const eventSecond = (eventAt: Date): number => Math.floor(eventAt.getTime() / 1000) * 1000;

/**
 * When a stored state's time is over (ms): a read's at the end of its window; an
 * event's (or one stored before reads kept their window) at the end of its second,
 * since it happened somewhere in that second. An event from a second that begins at
 * or after this is certainly newer, and so is a read that began at or after it.
 */
export const storedStateEnds = (storedAt: number, storedUntil: Date | null): number => storedUntil?.getTime() ?? eventSecond(new Date(storedAt)) + 1000;

/**
 * Whether a stored state may be on either side of a read that happened at some moment
 * in [`from`, `until`): the stored state's own time (from `storedAt` to storedStateEnds)
 * overlaps the read's window. Outside it, dates alone order the two.
 */
export const mayBeEitherSide = (storedAt: number, storedUntil: Date | null, read: { from: Date; until: Date }): boolean =>
  storedAt < read.until.getTime() && storedStateEnds(storedAt, storedUntil) > read.from.getTime();

export async function mirrorVerdict(input: MirrorVerdictInput): Promise<MirrorVerdict> {
  const second = eventSecond(input.eventAt);
  const stored = input.storedAt?.getTime() ?? null;
  // Older news never overwrites newer state, truncated or not: nothing to ask Stripe.
  if (stored !== null && stored >= second + 1000) return 'stale';
  if (input.truncated) return 'doubt';
  if (stored === null) return 'clear';
  // The stored state is certainly older once its time is over before the event's second
  // begins: an event's, from an earlier second; a read's, whose window ended before it.
  if (storedStateEnds(stored, input.storedUntil) <= second) return 'clear';
  // The same second, or a read that may have come after the event within its second:
  // arrival order would decide, and arrival order is not Stripe's order.
  return (await input.differs()) ? 'doubt' : 'clear';
}

/**
 * How far along its life a mirrored state is, for a same-second tie that Stripe cannot
 * settle (a workspace without a key, or an object Stripe no longer gives): arrival
 * order is not Stripe's order, but a subscription never comes back from its end, an
 * invoice never leaves paid or void and what was paid of it only grows, and a charge
 * never returns to pending. (What was refunded of a charge can shrink, when a refund
 * fails, so it does not order them.) Stages compare element by element; equal stages
 * leave the tie to arrival order.
 */
export type LifeStage = readonly number[];

const SUBSCRIPTION_STAGES: Readonly<Record<string, number>> = { incomplete: 0, incomplete_expired: 2, canceled: 2 };
const INVOICE_STAGES: Readonly<Record<string, number>> = { draft: 0, open: 1, uncollectible: 2, paid: 3, void: 3 };
const CHARGE_STAGES: Readonly<Record<string, number>> = { pending: 0, succeeded: 1, failed: 1 };
/** A status not listed: a running subscription, or one Stripe added since (the middle of the life). */
const MIDDLE = 1;

const stageOf = (stages: Readonly<Record<string, number>>, status: unknown) => stages[String(status)] ?? MIDDLE;
const amount = (v: unknown) => Number(v ?? 0) || 0;

/** A subscription row's stage: begun (incomplete), running, ended. */
export const subscriptionStage = (row: Record<string, unknown>): LifeStage => [row.ended_at != null ? 2 : stageOf(SUBSCRIPTION_STAGES, row.status)];

/** An invoice row's stage: its status, then what was paid of it. */
export const invoiceStage = (row: Record<string, unknown>): LifeStage => [stageOf(INVOICE_STAGES, row.status), amount(row.amount_paid)];

/** A charge row's stage: pending, then settled. */
export const chargeStage = (row: Record<string, unknown>): LifeStage => [stageOf(CHARGE_STAGES, row.status)];

/** Whether stage `a` is strictly further along than `b`. */
export function furtherAlong(a: LifeStage, b: LifeStage): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [x, y] = [a[i] ?? 0, b[i] ?? 0];
    if (x !== y) return x > y;
  }
  return false;
}

/** A value made comparable across what the mirror writes and what Postgres reads back. */
function canonical(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return { $date: v.getTime() };
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // jsonb does not keep key order.
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, canonical(o[k])]),
    );
  }
  return v;
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Whether one column's value as the mirror would write it equals the stored one.
 * jsonb columns are written as JSON text and read back parsed, so text compared with
 * a stored object or array is compared parsed.
 */
export function sameColumnValue(incoming: unknown, stored: unknown): boolean {
  const a = typeof incoming === 'string' && stored !== null && typeof stored === 'object' && !(stored instanceof Date) ? parsedJson(incoming) : incoming;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(stored));
}

/** Whether every column of an incoming row equals the stored row's (bookkeeping columns aside). */
export function sameRowContents(incoming: Record<string, unknown>, stored: Record<string, unknown>): boolean {
  return Object.keys(incoming).every((k) => sameColumnValue(incoming[k], stored[k]));
}

/** Whether an embedded list's rows are exactly the stored ones: the same ids with the same contents. */
export function sameRowSet(incoming: (Record<string, unknown> & { id: string })[], stored: Record<string, unknown>[]): boolean {
  if (incoming.length !== stored.length) return false;
  const byId = new Map(stored.map((r) => [String(r.id), r]));
  return incoming.every((r) => {
    const s = byId.get(r.id);
    return s !== undefined && sameRowContents(r, s);
  });
}
