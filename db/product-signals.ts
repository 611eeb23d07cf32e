import type { Db } from './knex';
import { ACTIVITY_WINDOW_DAYS, metricLabel, type CustomerActivity } from '../domain/product-activity';
import type { ProductSignal } from '../domain/product-signals';

const DAY_MS = 86_400_000;

/**
 * Stores a request's signals in one statement. A signal whose id the workspace
 * already holds (a retried request, or the same id twice in one) is a duplicate:
 * the first one stands and nothing is stored twice.
 */
export async function storeProductSignals(db: Db, workspaceId: string, signals: ProductSignal[]): Promise<{ stored: number; duplicates: number }> {
  const rows = signals.map((s) => ({
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
  }));
  const inserted = await db('product_signals').insert(rows).onConflict(['workspace_id', 'signal_id']).ignore().returning<{ signal_id: string }[]>('signal_id');
  return { stored: inserted.length, duplicates: signals.length - inserted.length };
}

/** Which of these customer ids the workspace's mirror does not hold (a typo, or a customer not synced yet). */
export async function unmirroredCustomers(db: Db, workspaceId: string, customerIds: string[]): Promise<string[]> {
  const wanted = [...new Set(customerIds)];
  const known = new Set(
    (await db('stripe_customers').where({ workspace_id: workspaceId }).whereIn('id', wanted).select<{ id: string }[]>('id')).map((r) => r.id),
  );
  return wanted.filter((id) => !known.has(id)).sort();
}

/** A customer's signals over the last window and the one before it (domain/product-signals.ts). */
export async function customerActivity(db: Db, workspaceId: string, customerId: string, now: Date): Promise<CustomerActivity> {
  const windowStart = new Date(now.getTime() - ACTIVITY_WINDOW_DAYS * DAY_MS);
  const previousStart = new Date(now.getTime() - 2 * ACTIVITY_WINDOW_DAYS * DAY_MS);
  const customer = { workspace_id: workspaceId, customer_id: customerId };
  const [counts, latest, tickets, openedLast] = await Promise.all([
    // Usage by metric and logins, each window apart (a login counts one).
    db('product_signals')
      .where(customer)
      .whereIn('kind', ['usage', 'login'])
      .where('occurred_at', '>', previousStart)
      .groupBy('kind', 'metric')
      .select<{ kind: string; metric: string | null; last: number; previous: number }[]>(
        'kind',
        'metric',
        db.raw('coalesce(sum(coalesce(quantity, 1)) filter (where occurred_at > ?), 0)::bigint as last', [windowStart]),
        db.raw('coalesce(sum(coalesce(quantity, 1)) filter (where occurred_at <= ?), 0)::bigint as previous', [windowStart]),
      ),
    // The latest login and the latest signal, however long ago.
    db('product_signals')
      .where(customer)
      .first<{ last_login: Date | null; last_signal: Date | null }>(db.raw("max(occurred_at) filter (where kind = 'login') as last_login"), db.raw('max(occurred_at) as last_signal')),
    // A ticket is open while the latest word on it is "opened".
    db
      .from(
        db('product_signals')
          .where({ ...customer, kind: 'ticket' })
          .distinctOn('ticket_id')
          .orderBy([{ column: 'ticket_id' }, { column: 'occurred_at', order: 'desc' }, { column: 'received_at', order: 'desc' }])
          .select('ticket_status', 'occurred_at')
          .as('t'),
      )
      .first<{ open: number; last_at: Date | null }>(db.raw("count(*) filter (where ticket_status = 'opened')::int as open"), db.raw('max(occurred_at) as last_at')),
    db('product_signals')
      .where({ ...customer, kind: 'ticket', ticket_status: 'opened' })
      .where('occurred_at', '>', windowStart)
      .first<{ n: number }>(db.raw('count(*)::int as n')),
  ]);
  const logins = counts.find((c) => c.kind === 'login');
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  return {
    windowDays: ACTIVITY_WINDOW_DAYS,
    usage: counts
      .filter((c): c is typeof c & { metric: string } => c.kind === 'usage' && c.metric !== null)
      .map((c) => ({ metric: c.metric, label: metricLabel(c.metric), last: c.last, previous: c.previous }))
      .sort((a, b) => b.last - a.last || b.previous - a.previous || a.metric.localeCompare(b.metric)),
    logins: { last: logins?.last ?? 0, previous: logins?.previous ?? 0, lastAt: iso(latest?.last_login) },
    tickets: { openedLast: openedLast?.n ?? 0, open: tickets?.open ?? 0, lastAt: iso(tickets?.last_at) },
    lastSignalAt: iso(latest?.last_signal),
  };
}
