/**
 * Which pending inbox events a relay pass takes, decided while walking them in arrival
 * order. The walk sees each customer's events in order, so the first one it meets is
 * that customer's earliest pending event: when that one waits for a retry, the whole
 * customer is held back (a deferred event holds back the customer's later ones), and
 * no lookup of deferred events is needed. This is what lets a pass cost the events it
 * looks at, not the whole backlog.
 */

/** A pending event as the walk reads it: no payload, whether it is due now. */
export interface PendingMark {
  seq: number;
  workspaceId: string;
  customerId: string | null;
  /** Its next attempt is now or past (Postgres's clock). */
  due: boolean;
}

/** A customer's key, `<workspace>/<customer>`; events without a customer share their workspace's (`<workspace>/`). */
export const customerKey = (workspaceId: string, customerId: string | null) => `${workspaceId}/${customerId ?? ''}`;

/**
 * A read that walked past more than a pass's worth of events it could not take (their
 * customers held back by a retry, or busy) is followed by a pause, so that walking such
 * events takes at most 1 / (1 + WALK_BACKOFF) of the relay's time. While Temporal is down, say,
 * every customer with a play waits for its retry, their events pile up at the head of
 * the inbox, and without the pause each arrival would have the relay walk them all again.
 */
export const WALK_BACKOFF = 4;

/**
 * How long the relay waits before its next read, after a read that took `readMs` and
 * found `blocked` of the `walked` events it looked at held back or busy (PassPicker):
 * WALK_BACKOFF times the share of the read spent on those, when they are more than
 * `passLimit` (a pass's worth); else 0, at once. In steady state a walk passes over the
 * busy customers' few events, and a backlog of customers that can go (catching up after
 * an outage) blocks nothing: neither costs a pause.
 */
export function walkBackoffMs(readMs: number, walked: number, blocked: number, passLimit: number): number {
  return blocked > passLimit ? WALK_BACKOFF * readMs * (blocked / walked) : 0;
}

export class PassPicker {
  /** Customers (with a customer id) met so far in the walk, taken or not. */
  private readonly met = new Set<string>();
  /** Customers the pass takes (at most `heads`), each key with its workspace and customer. */
  readonly taken = new Map<string, { workspaceId: string; customerId: string | null }>();
  /** The walked events the pass takes, in arrival order. */
  readonly seqs: number[] = [];
  /** Customers whose earliest pending event waits for a retry: held back with all their events. */
  private readonly held = new Set<string>();
  /** Walked events of busy or held-back customers: what the walk could not take whatever the pass's room. */
  blocked = 0;

  /**
   * @param heads how many customers a pass takes at most (events without a customer
   *   count as their workspace's one).
   * @param limit how many events a pass takes at most.
   * @param busy customers' keys that are being delivered already: left out.
   */
  constructor(
    private readonly heads: number,
    private readonly limit: number,
    private readonly busy: ReadonlySet<string>,
  ) {}

  /** Whether the pass has as many events as it may take. */
  get full(): boolean {
    return this.seqs.length >= this.limit;
  }

  /** The next pending event in arrival order (none once the pass is full). */
  offer(e: PendingMark): void {
    if (this.full) return;
    const key = customerKey(e.workspaceId, e.customerId);
    if (this.busy.has(key)) {
      this.blocked++;
      return;
    }
    if (e.customerId === null) {
      // No order to keep across them: each due one goes, a deferred one holds back nothing.
      if (!e.due) this.blocked++;
      else if (this.takes(key, e)) this.seqs.push(e.seq);
      return;
    }
    if (this.met.has(key)) {
      // A later event of a customer whose earliest is taken goes with it (the relay cuts
      // the customer's events before any that is not due); of any other, stays.
      if (this.taken.has(key)) this.seqs.push(e.seq);
      else if (this.held.has(key)) this.blocked++;
      return;
    }
    this.met.add(key);
    if (!e.due) {
      this.held.add(key);
      this.blocked++;
    } else if (this.takes(key, e)) this.seqs.push(e.seq);
  }

  /** Takes the customer if it is taken already or there is room for one more. */
  private takes(key: string, e: PendingMark): boolean {
    if (this.taken.has(key)) return true;
    if (this.taken.size >= this.heads) return false;
    this.taken.set(key, { workspaceId: e.workspaceId, customerId: e.customerId });
    return true;
  }
}
