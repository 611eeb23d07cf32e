/**
 * Append-only collections of Stripe objects in creation order, with the secondary
 * indexes the list endpoints filter on. Positions never change, so a cursor
 * (`starting_after` / `ending_before`) is just the position of an object.
 */
export interface Stored {
  id: string;
  created: number;
}

export class Collection<T extends Stored> {
  readonly rows: T[] = [];
  private readonly pos = new Map<string, number>();
  private readonly indexes = new Map<string, Map<string, number[]>>();
  private readonly keyed: Array<[key: (obj: T) => string | null | undefined, index: Map<string, number[]>]> = [];

  constructor(keys: Record<string, (obj: T) => string | null | undefined> = {}) {
    for (const [name, key] of Object.entries(keys)) {
      const index = new Map<string, number[]>();
      this.indexes.set(name, index);
      this.keyed.push([key, index]);
    }
  }

  add(obj: T): T {
    if (this.pos.has(obj.id)) throw new Error(`duplicate id ${obj.id}`);
    const at = this.rows.length;
    this.rows.push(obj);
    this.pos.set(obj.id, at);
    for (const [key, index] of this.keyed) {
      const value = key(obj);
      if (!value) continue;
      let list = index.get(value);
      if (!list) index.set(value, (list = []));
      list.push(at);
    }
    return obj;
  }

  get(id: string): T | undefined {
    const at = this.pos.get(id);
    return at === undefined ? undefined : this.rows[at];
  }

  position(id: string): number | undefined {
    return this.pos.get(id);
  }

  get size(): number {
    return this.rows.length;
  }

  /** Positions (ascending) of the objects whose index `name` has `value`; undefined for no such index. */
  indexed(name: string, value: string): readonly number[] | undefined {
    const index = this.indexes.get(name);
    if (!index) return undefined;
    return index.get(value) ?? [];
  }

  /**
   * One page, newest first like Stripe. `candidates` are ascending positions to
   * consider (all rows when undefined); `match` filters them further.
   */
  page(q: {
    limit: number;
    startingAfter?: number;
    endingBefore?: number;
    candidates?: readonly number[];
    match?: (obj: T) => boolean;
  }): { data: T[]; hasMore: boolean } {
    const cand = q.candidates;
    const count = cand ? cand.length : this.rows.length;
    const at = (i: number): number => (cand ? (cand[i] as number) : i);
    const match = q.match ?? (() => true);
    const data: T[] = [];
    if (q.endingBefore !== undefined) {
      // Objects newer than the cursor, the ones right next to it, still newest first.
      let i = lowerBound(cand, count, q.endingBefore + 1);
      const found: T[] = [];
      let hasMore = false;
      for (; i < count; i++) {
        const obj = this.rows[at(i)] as T;
        if (!match(obj)) continue;
        if (found.length === q.limit) {
          hasMore = true;
          break;
        }
        found.push(obj);
      }
      return { data: found.reverse(), hasMore };
    }
    let i = q.startingAfter !== undefined ? lowerBound(cand, count, q.startingAfter) - 1 : count - 1;
    for (; i >= 0; i--) {
      const obj = this.rows[at(i)] as T;
      if (!match(obj)) continue;
      if (data.length === q.limit) return { data, hasMore: true };
      data.push(obj);
    }
    return { data, hasMore: false };
  }
}

/** First index i with (cand ? cand[i] : i) >= target. */
function lowerBound(cand: readonly number[] | undefined, count: number, target: number): number {
  if (!cand) return Math.max(0, Math.min(count, target));
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cand[mid] as number) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
