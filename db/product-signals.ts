import { deleteInBatches } from './batched-delete';
import type { Db } from './knex';
import { ACTIVITY_WINDOW_DAYS, metricLabel, type CustomerActivity } from '../domain/product-activity';
import { SIGNAL_KINDS, TICKET_PRIORITIES, TICKET_STATUSES, whatSignalSays, type ProductSignal } from '../domain/product-signals';
import { DAY_MS } from '../domain/durations';

/** A signal as product_signals holds it (the columns a signal sets). */
export interface SignalRow {
  workspace_id: string;
  signal_id: string;
  customer_id: string;
  kind: string;
  metric: string | null;
  quantity: string | number | null;
  ticket_id: string | null;
  ticket_status: string | null;
  ticket_priority: string | null;
  occurred_at: Date;
}

const SIGNAL_COLUMNS = ['signal_id', 'customer_id', 'kind', 'metric', 'quantity', 'ticket_id', 'ticket_status', 'ticket_priority', 'occurred_at'] as const;

const rowOf = (workspaceId: string, s: ProductSignal): SignalRow => ({
  workspace_id: workspaceId,
  signal_id: s.id,
  customer_id: s.customerId,
  kind: s.type,
  metric: s.type === 'usage' ? s.metric : null,
  quantity: s.type === 'usage' ? s.quantity : null,
  ticket_id: s.type === 'ticket' ? s.ticket : null,
  ticket_status: s.type === 'ticket' ? s.status : null,
  ticket_priority: s.type === 'ticket' ? (s.priority ?? null) : null,
  occurred_at: s.at,
});

/** A stored signal as the API takes it (and answers and audits it). The table's shape check holds each kind's columns. */
export function signalOf(r: SignalRow): ProductSignal {
  const common = { id: r.signal_id, customerId: r.customer_id, at: r.occurred_at };
  if (r.kind === 'usage') return { type: 'usage', ...common, metric: r.metric ?? '', quantity: Number(r.quantity) };
  if (r.kind === 'ticket') {
    const status = TICKET_STATUSES.find((t) => t === r.ticket_status) ?? 'opened';
    const priority = TICKET_PRIORITIES.find((p) => p === r.ticket_priority);
    return { type: 'ticket', ...common, ticket: r.ticket_id ?? '', status, ...(priority ? { priority } : {}) };
  }
  return { type: 'login', ...common };
}

export interface StoredSignals {
  stored: number;
  /** The ids of the signals this request wrote: those it stored, and those `replace` overwrote. */
  written: string[];
  /** Signals the workspace held already as sent (retries): nothing changed. */
  duplicates: number;
  /** Ids the workspace held with something else under them: the first one stands (unless `replace`). */
  conflicts: string[];
  /** With `replace`: the signals overwritten, as they were. */
  replaced: SignalRow[];
}

/** How often a request's store reads again ids another request inserted or deleted between its read and its insert. */
const RACE_ROUNDS = 5;

/**
 * Stores a request's signals in one transaction. A signal whose id the workspace
 * already holds is a duplicate when it says the same (a retried request: nothing
 * happens), and a conflict when it says something else: the first one stands and the
 * id is named, so a sender sees that a correction did not take; with `replace` the
 * signal sent now overwrites it (how a sender corrects a wrong one). Within one
 * request an id means one signal (domain/product-signals.ts refuses a request that
 * repeats an id with another signal), so here a repeat is a duplicate.
 *
 * The ids held are read first (locked when replacing, so a delete waits), then the
 * rest inserted, all in one order of the ids (two requests sharing ids queue, never
 * deadlock); an id another request inserted in between is read again, so a request
 * racing another, or a delete, never fails for it.
 */
export async function storeProductSignals(
  db: Db,
  workspaceId: string,
  signals: ProductSignal[],
  opts: { replace?: boolean } = {},
  /** Called in the transaction with the signals a `replace` overwrote, as they were (when it overwrote any). */
  onReplaced?: (trx: Db, before: SignalRow[]) => Promise<void>,
): Promise<StoredSignals> {
  const sent = new Map(signals.map((s) => [s.id, s]));
  return db.transaction(async (trx) => {
    const existing = new Map<string, SignalRow>();
    const inserted: string[] = [];
    // One order of the ids throughout, the inserts' too (JavaScript's sort and the "C"
    // collation agree): requests with ids in common wait on each other's rows in that
    // order, never in a cycle.
    let pending = [...sent.keys()].sort();
    for (let round = 0; pending.length; round++) {
      if (round === RACE_ROUNDS) throw new Error(`signals ${pending.slice(0, 3).join(', ')} kept changing under this request`);
      const read = trx<SignalRow>('product_signals').where({ workspace_id: workspaceId }).whereRaw('signal_id = any(?)', [pending]).orderByRaw('signal_id collate "C"');
      for (const r of await (opts.replace ? read.forUpdate() : read)) existing.set(r.signal_id, r);
      const absent = pending.filter((id) => !existing.has(id)).map((id) => rowOf(workspaceId, sent.get(id)!));
      const added = absent.length
        ? new Set((await trx('product_signals').insert(absent).onConflict(['workspace_id', 'signal_id']).ignore().returning<{ signal_id: string }[]>('signal_id')).map((r) => r.signal_id))
        : new Set<string>();
      inserted.push(...added);
      pending = absent.map((r) => r.signal_id).filter((id) => !added.has(id));
    }
    const changed = [...existing.values()].filter((r) => whatSignalSays(signalOf(r)) !== whatSignalSays(sent.get(r.signal_id)!));
    if (opts.replace && changed.length) {
      // One statement for the whole correction, whatever its size.
      await trx.raw(
        `update product_signals p
            set customer_id = v.customer_id, kind = v.kind, metric = v.metric, quantity = v.quantity, ticket_id = v.ticket_id,
                ticket_status = v.ticket_status, ticket_priority = v.ticket_priority, occurred_at = v.occurred_at, received_at = now()
           from jsonb_to_recordset(?::jsonb) as v(signal_id text, customer_id text, kind text, metric text, quantity bigint, ticket_id text,
                                                  ticket_status text, ticket_priority text, occurred_at timestamptz)
          where p.workspace_id = ? and p.signal_id = v.signal_id`,
        [JSON.stringify(changed.map((r) => rowOf(workspaceId, sent.get(r.signal_id)!))), workspaceId],
      );
      if (onReplaced) await onReplaced(trx, changed);
    }
    return {
      stored: inserted.length,
      written: opts.replace ? [...inserted, ...changed.map((r) => r.signal_id)] : inserted,
      duplicates: signals.length - inserted.length - changed.length,
      conflicts: opts.replace ? [] : changed.map((r) => r.signal_id),
      replaced: opts.replace ? changed : [],
    };
  });
}

/** Deletes one signal; answers it as it was, or null when the workspace holds no signal with that id. */
export async function deleteProductSignal(db: Db, workspaceId: string, signalId: string): Promise<SignalRow | null> {
  const [row] = await db<SignalRow>('product_signals').where({ workspace_id: workspaceId, signal_id: signalId }).delete().returning(['workspace_id', ...SIGNAL_COLUMNS]);
  return row ?? null;
}

/** Which of these customer ids the workspace's mirror does not hold (a typo, or a customer not synced yet). */
export async function unmirroredCustomers(db: Db, workspaceId: string, customerIds: string[]): Promise<string[]> {
  const wanted = [...new Set(customerIds)];
  const known = new Set(
    (await db('stripe_customers').where({ workspace_id: workspaceId }).whereIn('id', wanted).select<{ id: string }[]>('id')).map((r) => r.id),
  );
  return wanted.filter((id) => !known.has(id)).sort();
}

/** A customer's signals over the last window and the one before it (domain/product-activity.ts). */
export async function customerActivity(db: Db, workspaceId: string, customerId: string, now: Date): Promise<CustomerActivity> {
  return (await customersActivity(db, workspaceId, [customerId], now)).get(customerId) ?? noActivity();
}

const noActivity = (): CustomerActivity => ({
  windowDays: ACTIVITY_WINDOW_DAYS,
  usage: [],
  logins: { last: 0, previous: 0, lastAt: null },
  tickets: { openedLast: 0, open: 0, openUrgent: 0, lastAt: null },
  lastSignalAt: null,
});

/** A ticket still "opened" this long after is taken as forgotten by the support tool, not open: a lost "solved" would weigh forever. */
export const TICKET_STALE_DAYS = 90;

/** Above this many customers, the activity reads scan the workspace's signals rather than look up each customer's. */
const SCAN_ABOVE = 2_500;

/** The newest signal of a kind of the customer `c` by a time (two bindings: workspace, time). */
const latestOf = (kind: string) =>
  `(select max(p.occurred_at) from product_signals p where p.workspace_id = ? and p.customer_id = c.customer_id and p.kind = ${kind} and p.occurred_at <= ?)`;

/** The activity of each of these customers that the product sent a signal about by `now` (customerActivity, in one go). */
export async function customersActivity(db: Db, workspaceId: string, customerIds: string[], now: Date, opts: { scanAbove?: number } = {}): Promise<Map<string, CustomerActivity>> {
  const staleBefore = new Date(now.getTime() - TICKET_STALE_DAYS * DAY_MS);
  const windowStart = new Date(now.getTime() - ACTIVITY_WINDOW_DAYS * DAY_MS);
  const previousStart = new Date(now.getTime() - 2 * ACTIVITY_WINDOW_DAYS * DAY_MS);
  // Only what had happened by `now`, so the same read serves a look back (the risk
  // backtest). Over many customers one scan of the workspace's signals is cheaper
  // than looking each one up (their sorts spill to disk): the others are dropped here.
  const scan = customerIds.length > (opts.scanAbove ?? SCAN_ABOVE);
  const signals = () => {
    const q = db('product_signals').where({ workspace_id: workspaceId }).where('occurred_at', '<=', now);
    return scan ? q : q.whereRaw('customer_id = any(?)', [customerIds]);
  };
  const [counts, latest, tickets, opened] = await Promise.all([
    // Usage by metric and logins, each window apart (a login counts one).
    signals()
      .whereIn('kind', ['usage', 'login'])
      .where('occurred_at', '>', previousStart)
      .groupBy('customer_id', 'kind', 'metric')
      .select<{ customer_id: string; kind: string; metric: string | null; last: number; previous: number }[]>(
        'customer_id',
        'kind',
        'metric',
        db.raw('coalesce(sum(coalesce(quantity, 1)) filter (where occurred_at > ?), 0)::bigint as last', [windowStart]),
        db.raw('coalesce(sum(coalesce(quantity, 1)) filter (where occurred_at <= ?), 0)::bigint as previous', [windowStart]),
      ),
    // The latest login and the latest signal, however long ago: the newest entry of
    // each kind in the index, one look each, rather than every signal ever.
    db
      .select<{ customer_id: string; last_login: Date | null; last_signal: Date | null }[]>(
        'c.customer_id',
        db.raw(`${latestOf("'login'")} as last_login`, [workspaceId, now]),
        db.raw(`greatest(${SIGNAL_KINDS.map((k) => latestOf(`'${k}'`)).join(', ')}) as last_signal`, SIGNAL_KINDS.flatMap(() => [workspaceId, now])),
      )
      .from(db.raw('unnest(?::text[]) as c(customer_id)', [customerIds])),
    // A ticket is open while the latest word on it is "opened" (which carries its
    // priority), said in the last TICKET_STALE_DAYS. Said at the same time as
    // "solved", "solved" wins: a tool that stamps a day's tickets alike closed it.
    db
      .from(
        signals()
          .where({ kind: 'ticket' })
          .distinctOn('customer_id', 'ticket_id')
          .orderBy([{ column: 'customer_id' }, { column: 'ticket_id' }, { column: 'occurred_at', order: 'desc' }])
          .orderByRaw("ticket_status = 'solved' desc, received_at desc, signal_id desc")
          .select('customer_id', 'ticket_status', 'ticket_priority', 'occurred_at')
          .as('t'),
      )
      .groupBy('customer_id')
      .select<{ customer_id: string; open: number; open_urgent: number; last_at: Date }[]>(
        'customer_id',
        db.raw("count(*) filter (where ticket_status = 'opened' and occurred_at > ?)::int as open", [staleBefore]),
        db.raw("count(*) filter (where ticket_status = 'opened' and occurred_at > ? and ticket_priority in ('high', 'urgent'))::int as open_urgent", [staleBefore]),
        db.raw('max(occurred_at) as last_at'),
      ),
    signals()
      .where({ kind: 'ticket', ticket_status: 'opened' })
      .where('occurred_at', '>', windowStart)
      .groupBy('customer_id')
      // Tickets, not signals: a ticket reopened is still one.
      .select<{ customer_id: string; n: number }[]>('customer_id', db.raw('count(distinct ticket_id)::int as n')),
  ]);
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  const out = new Map<string, CustomerActivity>();
  for (const l of latest) if (l.last_signal) out.set(l.customer_id, { ...noActivity(), logins: { last: 0, previous: 0, lastAt: iso(l.last_login) }, lastSignalAt: iso(l.last_signal) });
  for (const c of counts) {
    const a = out.get(c.customer_id);
    if (!a) continue;
    if (c.kind === 'login') a.logins = { ...a.logins, last: c.last, previous: c.previous };
    else if (c.metric !== null) a.usage.push({ metric: c.metric, label: metricLabel(c.metric), last: c.last, previous: c.previous });
  }
  for (const a of out.values()) a.usage.sort((x, y) => y.last - x.last || y.previous - x.previous || x.metric.localeCompare(y.metric));
  const openedIn = new Map(opened.map((o) => [o.customer_id, o.n]));
  for (const t of tickets) {
    const a = out.get(t.customer_id);
    if (a) a.tickets = { openedLast: openedIn.get(t.customer_id) ?? 0, open: t.open, openUrgent: t.open_urgent, lastAt: iso(t.last_at) };
  }
  return out;
}

/**
 * Deletes signals that happened before `cutoff`, `batch` at a time (each delete a
 * short transaction beside the API's inserts), calling `onBatch` with the running
 * total; it stops early when that answers false. Answers how many went. A customer's
 * newest signal of each kind stays however old: "no login for 500 days" and the
 * customer's last activity are read from it.
 */
export function pruneProductSignals(db: Db, cutoff: Date, batch = 5_000, onBatch?: (pruned: number) => boolean | void): Promise<number> {
  const deleteBatch = async () =>
    (
      await db.raw<{ rowCount: number }>(
        `delete from product_signals where (workspace_id, signal_id) in (
           select p.workspace_id, p.signal_id from product_signals p
            where p.occurred_at < ?
              and exists (select 1 from product_signals n where n.workspace_id = p.workspace_id and n.customer_id = p.customer_id and n.kind = p.kind and n.occurred_at > p.occurred_at)
            limit ?)`,
        [cutoff, batch],
      )
    ).rowCount;
  return deleteInBatches(deleteBatch, batch, onBatch);
}
