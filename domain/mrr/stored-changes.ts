import { cohortOf } from './contributions';
import type { Movement } from './customer';
import { monthLabel } from './months';

/*
 * What a customer's recompute has to change in the stored rows. Most deliveries
 * (a renewal paid, a refund, a repeated update) leave a customer's movements as they
 * were, and a long-lived customer has many: rewriting them all on every event would
 * make each event cost as much as the customer's whole history. So a recompute
 * compares and writes only the difference.
 */

/** A stored movement: its row id, the reporting currency it was stored in, and the movement. */
export interface StoredMovement {
  id: number;
  currency: string;
  movement: Movement;
}

/** Turns a customer's stored movements into the computed ones: rows to delete, movements to insert. */
export interface MovementChanges {
  removed: number[];
  added: Movement[];
}

/** Everything that makes two movements of one customer the same row. */
function movementKey(m: Movement, currency: string): string {
  // The stored `original` comes back from jsonb with its keys in jsonb's order.
  const original = Object.entries(m.original).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([m.at.getTime(), m.kind, m.amount, m.mrrBefore, m.mrrAfter, currency, original]);
}

/**
 * The fewest row changes from `stored` to `computed` (the customer's movements in
 * `currency`): a stored movement equal to a computed one stays, every other stored
 * row goes and every other computed movement is added.
 */
export function movementChanges(stored: readonly StoredMovement[], computed: readonly Movement[], currency: string): MovementChanges {
  const unmatched = new Map<string, number[]>();
  for (const s of stored) {
    const key = movementKey(s.movement, s.currency);
    const ids = unmatched.get(key);
    if (ids) ids.push(s.id);
    else unmatched.set(key, [s.id]);
  }
  const added: Movement[] = [];
  for (const m of computed) {
    const ids = unmatched.get(movementKey(m, currency));
    if (ids && ids.length > 0) ids.pop();
    else added.push(m);
  }
  return { removed: [...unmatched.values()].flat(), added };
}

export const noMovementChanges = (c: MovementChanges) => c.removed.length === 0 && c.added.length === 0;

/** A customer's summary row: cohort (month of first payment), MRR, what could not be counted. */
export interface CustomerSummary {
  cohortMonth: string | null;
  /**
   * After every movement known, scheduled ones included (a cancellation at period end is
   * a movement dated when it takes effect): their MRR today is mrrAt's.
   */
  mrr: number;
  currency: string;
  warnings: readonly string[];
}

export function customerSummary(movements: readonly Movement[], warnings: readonly string[], currency: string): CustomerSummary {
  const cohort = cohortOf(movements);
  return { cohortMonth: cohort === null ? null : monthLabel(cohort), mrr: movements.at(-1)?.mrrAfter ?? 0, currency, warnings };
}

/**
 * A customer's MRR at `at`: after their latest movement up to then (0 before the first).
 * Movements come in time order; a scheduled one dated later does not count yet, so a
 * customer who has cancelled for the end of their period still pays until then.
 */
export function mrrAt(movements: readonly Movement[], at: Date): number {
  let mrr = 0;
  for (const m of movements) {
    if (m.at.getTime() > at.getTime()) break;
    mrr = m.mrrAfter;
  }
  return mrr;
}

export function sameSummary(a: CustomerSummary, b: CustomerSummary): boolean {
  return a.cohortMonth === b.cohortMonth && a.mrr === b.mrr && a.currency === b.currency && JSON.stringify(a.warnings) === JSON.stringify(b.warnings);
}
