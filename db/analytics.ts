import type { Db, Knex } from './knex';
import { groupBy } from '../domain/group-by';
import {
  ANALYTICS_RULES_VERSION,
  COHORT_FIELDS,
  MONTH_FIELDS,
  NPS_FIELDS,
  analyticsSettingsSchema,
  cohortKey,
  customerSummary,
  emptyAggregates,
  monthLabel,
  parseCohortKey,
  parseMonth,
  type Aggregates,
  type AnalyticsSettings,
  type CohortRow,
  type CustomerSummary,
  type CustomerHistory,
  type ExchangeRate,
  type MirrorCustomer,
  type MirrorInvoice,
  type MirrorInvoiceLine,
  type MirrorPrice,
  type MirrorSubscription,
  type MirrorSubscriptionItem,
  type MonthRow,
  type Movement,
  type MovementKind,
  type NpsRow,
  type NpsSignal,
  type StoredMovement,
} from '../domain/mrr';

// The mirror columns the metrics read (domain/mrr/mirror.ts has one interface per table).
const CUSTOMER_COLUMNS = ['id', 'currency', 'deleted'];
const PRICE_COLUMNS = ['id', 'currency', 'unit_amount', 'billing_scheme', 'tiers_mode', 'tiers', 'transform_quantity', 'type', 'recurring_interval', 'recurring_interval_count', 'recurring_usage_type'];
const SUBSCRIPTION_COLUMNS = [
  'id', 'customer_id', 'status', 'currency', 'cancel_at_period_end', 'cancel_at', 'canceled_at', 'ended_at',
  'current_period_start', 'current_period_end', 'trial_start', 'trial_end',
];
const ITEM_COLUMNS = ['stripe_subscription_items.id', 'subscription_id', 'price_id', 'quantity'];
const INVOICE_COLUMNS = ['id', 'customer_id', 'subscription_id', 'status', 'currency', 'created', 'period_start', 'period_end'];
const LINE_COLUMNS = [
  'stripe_invoice_lines.id', 'invoice_id', 'stripe_invoice_lines.subscription_id', 'price_id', 'type', 'amount',
  'stripe_invoice_lines.currency', 'quantity', 'proration', 'stripe_invoice_lines.period_start', 'stripe_invoice_lines.period_end',
  'discount_amounts',
];

/** The workspace's analytics settings (settings.analytics of its row), validated. */
export async function loadAnalyticsSettings(db: Db, workspaceId: string): Promise<AnalyticsSettings> {
  const row = await db('workspaces').where({ id: workspaceId }).first<{ settings: Record<string, unknown> } | undefined>('settings');
  if (!row) throw new Error(`unknown workspace ${workspaceId}`);
  const parsed = analyticsSettingsSchema.safeParse(row.settings.analytics ?? {});
  if (!parsed.success) {
    throw new Error(`workspace ${workspaceId} has invalid analytics settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export async function loadExchangeRates(db: Db, reportingCurrency: string): Promise<ExchangeRate[]> {
  const rows = await db('analytics_exchange_rates')
    .where({ reporting_currency: reportingCurrency })
    .select<{ currency: string; on: string; rate: string }[]>('currency', db.raw(`to_char("on", 'YYYY-MM-DD') as "on"`), 'rate');
  return rows.map((r) => ({ currency: r.currency, on: r.on, rate: Number(r.rate) }));
}

export async function upsertExchangeRates(db: Db, reportingCurrency: string, rates: readonly ExchangeRate[]): Promise<void> {
  if (rates.length === 0) return;
  await db('analytics_exchange_rates')
    .insert(rates.map((r) => ({ currency: r.currency.toLowerCase(), reporting_currency: reportingCurrency, on: r.on, rate: r.rate })))
    .onConflict(['currency', 'reporting_currency', 'on'])
    .merge(['rate']);
}

/**
 * The mirror rows of a set of customers, six queries however many there are, with
 * the prices they refer to. Customers the mirror knows nothing of are left out.
 */
export async function loadCustomerHistories(db: Db, workspaceId: string, customerIds: readonly string[]): Promise<CustomerHistory[]> {
  return loadHistories(db, workspaceId, customerIds);
}

/** Every customer's mirror rows of a workspace, read table by table (for a full recompute). */
export async function loadWorkspaceHistories(db: Db, workspaceId: string): Promise<CustomerHistory[]> {
  return loadHistories(db, workspaceId, null);
}

/** Mirror rows table by table, of the given customers (null: all of them), grouped by customer. */
async function loadHistories(db: Db, workspaceId: string, customerIds: readonly string[] | null): Promise<CustomerHistory[]> {
  const ws = { workspace_id: workspaceId };
  // Restricts to the set (no restriction for the whole workspace); one array
  // parameter, so a large set does not become thousands of bind parameters.
  const inSet = (q: Knex.QueryBuilder, column: string, ids: readonly string[] | null) => (ids === null ? q : q.whereRaw(`${column} = any(?::text[])`, [[...ids]]));
  const whole = customerIds === null;
  // Sequential: inside a transaction all queries share one connection.
  const customers = await inSet(db('stripe_customers').where(ws), 'id', customerIds).select<MirrorCustomer[]>(CUSTOMER_COLUMNS);
  const subscriptions = await inSet(db('stripe_subscriptions').where(ws), 'customer_id', customerIds).select<MirrorSubscription[]>(SUBSCRIPTION_COLUMNS);
  const items = await inSet(db('stripe_subscription_items').where({ 'stripe_subscription_items.workspace_id': workspaceId }), 'subscription_id', whole ? null : subscriptions.map((s) => s.id))
    .select<MirrorSubscriptionItem[]>(ITEM_COLUMNS);
  const invoices = await inSet(db('stripe_invoices').where(ws), 'customer_id', customerIds).select<MirrorInvoice[]>(INVOICE_COLUMNS);
  const lines = await inSet(db('stripe_invoice_lines').where({ 'stripe_invoice_lines.workspace_id': workspaceId }), 'invoice_id', whole ? null : invoices.map((i) => i.id))
    .select<MirrorInvoiceLine[]>(LINE_COLUMNS);
  const priceIds = whole ? null : [...new Set([...lines.map((l) => l.price_id), ...items.map((i) => i.price_id)].filter((p): p is string => p !== null))];
  const prices = await inSet(db('stripe_prices').where(ws), 'id', priceIds).select<MirrorPrice[]>(PRICE_COLUMNS);
  return groupHistories(customers, subscriptions, items, invoices, lines, prices);
}

/** Groups mirror rows (a workspace's or a set of customers') by customer; also the benchmark's in-memory account. */
export function groupHistories(
  customers: readonly MirrorCustomer[],
  subscriptions: readonly MirrorSubscription[],
  items: readonly MirrorSubscriptionItem[],
  invoices: readonly MirrorInvoice[],
  lines: readonly MirrorInvoiceLine[],
  prices: readonly MirrorPrice[],
): CustomerHistory[] {
  const byCustomer = new Map<string, { customer: MirrorCustomer; subscriptions: MirrorSubscription[]; items: MirrorSubscriptionItem[]; invoices: MirrorInvoice[]; lines: MirrorInvoiceLine[] }>();
  const entry = (id: string) => {
    let e = byCustomer.get(id);
    if (!e) byCustomer.set(id, (e = { customer: { id, currency: null, deleted: false }, subscriptions: [], items: [], invoices: [], lines: [] }));
    return e;
  };
  for (const c of customers) entry(c.id).customer = c;
  const subOwner = new Map<string, string>();
  for (const s of subscriptions) {
    entry(s.customer_id).subscriptions.push(s);
    subOwner.set(s.id, s.customer_id);
  }
  for (const i of items) {
    const owner = subOwner.get(i.subscription_id);
    if (owner) entry(owner).items.push(i);
  }
  const invoiceOwner = new Map<string, string>();
  for (const i of invoices) {
    entry(i.customer_id).invoices.push(i);
    invoiceOwner.set(i.id, i.customer_id);
  }
  for (const l of lines) {
    const owner = invoiceOwner.get(l.invoice_id);
    if (owner) entry(owner).lines.push(l);
  }
  // Prices are shared: every customer sees the whole (small) price list.
  return [...byCustomer.values()].map((e) => ({ ...e, prices }));
}

/** NPS answers of a workspace, or of the given customers only. */
export async function loadNpsSignals(db: Db, workspaceId: string, customerIds?: readonly string[]): Promise<NpsSignal[]> {
  const q = db('nps_responses').where({ workspace_id: workspaceId });
  if (customerIds !== undefined) q.whereRaw('customer_id = any(?::text[])', [[...customerIds]]);
  const rows = await q.select<{ customer_id: string; score: number; at: Date }[]>('customer_id', 'score', 'at');
  return rows.map((r) => ({ customerId: r.customer_id, score: r.score, at: r.at }));
}

interface MovementRow {
  customer_id: string;
  at: Date;
  kind: MovementKind;
  amount: number;
  mrr_before: number;
  mrr_after: number;
  currency: string;
  original: Record<string, number>;
}

const toMovement = (r: MovementRow): Movement => ({
  customerId: r.customer_id,
  at: r.at,
  kind: r.kind,
  amount: r.amount,
  mrrBefore: r.mrr_before,
  mrrAfter: r.mrr_after,
  original: r.original,
});

export async function loadCustomerMovements(db: Db, workspaceId: string, customerId: string): Promise<Movement[]> {
  return ((await loadStoredMovementsOf(db, workspaceId, [customerId])).get(customerId) ?? []).map((s) => s.movement);
}

/** The stored movement rows of a set of customers in one query, by customer (each in time order; absent: none). */
async function loadStoredMovementsOf(db: Db, workspaceId: string, customerIds: readonly string[]): Promise<Map<string, StoredMovement[]>> {
  const rows = await db('analytics_movements')
    .where({ workspace_id: workspaceId })
    .whereRaw('customer_id = any(?::text[])', [[...customerIds]])
    .orderBy([{ column: 'at' }, { column: 'id' }])
    .select<(MovementRow & { id: number })[]>('*');
  const byCustomer = groupBy(rows, (r) => r.customer_id);
  return new Map([...byCustomer].map(([customerId, list]) => [customerId, list.map((r) => ({ id: r.id, currency: r.currency, movement: toMovement(r) }))]));
}

/** What is stored for a set of customers: their movement rows and summary rows, by customer. */
export interface StoredAnalytics {
  movements: Map<string, StoredMovement[]>;
  summaries: Map<string, CustomerSummary>;
}

export async function loadStoredAnalytics(db: Db, workspaceId: string, customerIds: readonly string[]): Promise<StoredAnalytics> {
  const movements = await loadStoredMovementsOf(db, workspaceId, customerIds);
  const rows = await db('analytics_customers')
    .where({ workspace_id: workspaceId })
    .whereRaw('customer_id = any(?::text[])', [[...customerIds]])
    .select<{ customer_id: string; cohort_month: string | null; mrr: number; currency: string; warnings: string[] }[]>('customer_id', 'cohort_month', 'mrr', 'currency', 'warnings');
  const summaries = new Map(rows.map((r) => [r.customer_id, { cohortMonth: r.cohort_month, mrr: r.mrr, currency: r.currency, warnings: r.warnings }] as const));
  return { movements, summaries };
}

/** What a recompute of a set of customers writes: movement rows to delete and to add, summary rows to set. */
export interface AnalyticsChanges {
  removedMovements: readonly number[];
  addedMovements: readonly Movement[];
  summaries: readonly { customerId: string; summary: CustomerSummary }[];
}

/**
 * Writes a recompute's changes with bulk statements (one delete, chunked multi-row
 * inserts, one upsert of the summaries), whatever the number of customers; a part
 * with nothing to write costs no statement.
 */
export async function writeAnalyticsChanges(db: Db, workspaceId: string, currency: string, changes: AnalyticsChanges): Promise<void> {
  if (changes.removedMovements.length > 0) {
    await db('analytics_movements').where({ workspace_id: workspaceId }).whereRaw('id = any(?::bigint[])', [[...changes.removedMovements]]).delete();
  }
  await insertMovements(db, workspaceId, currency, changes.addedMovements);
  const rows = changes.summaries.map((s) => summaryRow(workspaceId, s.customerId, s.summary));
  await inChunks(rows, (chunk) =>
    db('analytics_customers')
      .insert(chunk)
      .onConflict(['workspace_id', 'customer_id'])
      // computed_at: when the row last changed.
      .merge({ cohort_month: db.raw('excluded.cohort_month'), mrr: db.raw('excluded.mrr'), currency: db.raw('excluded.currency'), warnings: db.raw('excluded.warnings'), computed_at: db.fn.now() }),
  );
}

/** Rows per multi-row statement: well under Postgres's 65,535 bind parameters for these tables. */
const ROWS_PER_STATEMENT = 2000;

/** Writes `rows` with one statement per ROWS_PER_STATEMENT of them (none for no rows). */
async function inChunks<Row>(rows: readonly Row[], write: (chunk: Row[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) await write(rows.slice(i, i + ROWS_PER_STATEMENT));
}

const summaryRow = (workspaceId: string, customerId: string, s: CustomerSummary) => ({
  workspace_id: workspaceId,
  customer_id: customerId,
  cohort_month: s.cohortMonth,
  mrr: s.mrr,
  currency: s.currency,
  warnings: JSON.stringify(s.warnings),
});

/** One analytics_customers row per customer: cohort, current MRR and warnings. */
export async function insertCustomerSummaries(db: Db, workspaceId: string, currency: string, customers: readonly { customerId: string; movements: readonly Movement[]; warnings: readonly string[] }[]): Promise<void> {
  const rows = customers.map((c) => summaryRow(workspaceId, c.customerId, customerSummary(c.movements, c.warnings, currency)));
  await inChunks(rows, (chunk) => db('analytics_customers').insert(chunk));
}

export async function insertMovements(db: Db, workspaceId: string, currency: string, movements: readonly Movement[]): Promise<void> {
  const rows = movements.map((m) => ({
    workspace_id: workspaceId,
    customer_id: m.customerId,
    at: m.at,
    kind: m.kind,
    amount: m.amount,
    mrr_before: m.mrrBefore,
    mrr_after: m.mrrAfter,
    currency,
    original: JSON.stringify(m.original),
  }));
  await inChunks(rows, (chunk) => db('analytics_movements').insert(chunk));
}

/**
 * Adds `delta` to the stored aggregates, row by row in key order (so concurrent
 * recomputes lock rows in the same order), and drops rows that fall to zero so the
 * tables hold exactly what a full recompute would write.
 */
export async function applyAggregateDelta(db: Db, workspaceId: string, delta: Aggregates): Promise<void> {
  // One statement per table: rows go in key order, so concurrent recomputes of
  // different customers lock shared rows in the same order.
  const increment = async (table: string, keyNames: string[], fields: readonly string[], rows: Record<string, string | number>[]) => {
    if (rows.length === 0) return;
    const updates = Object.fromEntries(fields.map((f) => [f, db.raw(`${table}.${f} + excluded.${f}`)]));
    await db(table)
      .insert(rows.map((r) => ({ workspace_id: workspaceId, ...r })))
      .onConflict(['workspace_id', ...keyNames])
      .merge(updates);
    await db(table)
      .where({ workspace_id: workspaceId })
      .whereIn(keyNames, rows.map((r) => keyNames.map((k) => r[k]!)))
      .andWhere((q) => {
        for (const f of fields) q.andWhere(f, 0);
      })
      .delete();
  };
  await increment(
    'analytics_months',
    ['month'],
    MONTH_FIELDS,
    [...delta.months].sort(([a], [b]) => a - b).map(([m, row]) => ({ month: monthLabel(m), ...row })),
  );
  await increment(
    'analytics_cohorts',
    ['cohort_month', 'month'],
    COHORT_FIELDS,
    [...delta.cohorts]
      .map(([key, row]) => ({ key: parseCohortKey(key), row }))
      .sort((a, b) => a.key.cohort - b.key.cohort || a.key.month - b.key.month)
      .map(({ key, row }) => ({ cohort_month: monthLabel(key.cohort), month: monthLabel(key.month), ...row })),
  );
  await increment(
    'analytics_cohort_nps',
    ['cohort_month'],
    NPS_FIELDS,
    [...delta.nps].sort(([a], [b]) => a - b).map(([c, row]) => ({ cohort_month: monthLabel(c), ...row })),
  );
}

/** Replaces a workspace's aggregates wholesale (full recompute). */
export async function replaceAggregates(db: Db, workspaceId: string, agg: Aggregates): Promise<void> {
  const ws = { workspace_id: workspaceId };
  await db('analytics_months').where(ws).delete();
  await db('analytics_cohorts').where(ws).delete();
  await db('analytics_cohort_nps').where(ws).delete();
  const chunks = async (table: string, rows: Record<string, unknown>[]) => {
    for (let i = 0; i < rows.length; i += 1000) await db(table).insert(rows.slice(i, i + 1000));
  };
  await chunks('analytics_months', [...agg.months].map(([m, row]) => ({ ...ws, month: monthLabel(m), ...row })));
  await chunks('analytics_cohorts', [...agg.cohorts].map(([key, row]) => {
    const { cohort, month } = parseCohortKey(key);
    return { ...ws, cohort_month: monthLabel(cohort), month: monthLabel(month), ...row };
  }));
  await chunks('analytics_cohort_nps', [...agg.nps].map(([c, row]) => ({ ...ws, cohort_month: monthLabel(c), ...row })));
}

export async function loadAggregates(db: Db, workspaceId: string): Promise<Aggregates> {
  const ws = { workspace_id: workspaceId };
  const [months, cohorts, nps] = await Promise.all([
    db('analytics_months').where(ws).select<(MonthRow & { month: string })[]>(['month', ...MONTH_FIELDS]),
    db('analytics_cohorts').where(ws).select<(CohortRow & { cohort_month: string; month: string })[]>(['cohort_month', 'month', ...COHORT_FIELDS]),
    db('analytics_cohort_nps').where(ws).select<(NpsRow & { cohort_month: string })[]>(['cohort_month', ...NPS_FIELDS]),
  ]);
  const agg = emptyAggregates();
  const pick = <R>(row: object, fields: readonly string[]) => Object.fromEntries(fields.map((f) => [f, (row as Record<string, unknown>)[f]])) as R;
  for (const r of months) agg.months.set(parseMonth(r.month), pick<MonthRow>(r, MONTH_FIELDS));
  for (const r of cohorts) agg.cohorts.set(cohortKey(parseMonth(r.cohort_month), parseMonth(r.month)), pick<CohortRow>(r, COHORT_FIELDS));
  for (const r of nps) agg.nps.set(parseMonth(r.cohort_month), pick<NpsRow>(r, NPS_FIELDS));
  return agg;
}

/** Movements of a workspace in [from, to), optionally of one kind: the drill-down behind a figure. */
export async function listMovements(db: Db, workspaceId: string, range: { from: Date; to: Date; kind?: MovementKind | undefined; customerIds?: string[] | undefined; limit: number }): Promise<Movement[]> {
  const q = db('analytics_movements').where({ workspace_id: workspaceId }).andWhere('at', '>=', range.from).andWhere('at', '<', range.to);
  if (range.kind) q.andWhere({ kind: range.kind });
  if (range.customerIds) q.whereIn('customer_id', range.customerIds);
  const rows = await q.orderBy([{ column: 'at' }, { column: 'id' }]).limit(range.limit).select<MovementRow[]>('*');
  return rows.map(toMovement);
}

/**
 * The order of a drill-down's customers: the biggest payers first, or by id for a
 * reader from whom MRR is hidden (an order by it would tell what is hidden).
 */
export type DrilldownOrder = 'mrr' | 'id';

/** Customers paying just before `at`, with their MRR then: the drill-down behind an MRR figure. */
export async function payingCustomersAt(db: Db, workspaceId: string, at: Date, limit: number, order: DrilldownOrder = 'mrr'): Promise<{ customerId: string; mrr: number }[]> {
  const rows = await db
    .select<{ customer_id: string; mrr_after: number }[]>('customer_id', 'mrr_after')
    .from(
      db('analytics_movements')
        .distinctOn('customer_id')
        .where({ workspace_id: workspaceId })
        .andWhere('at', '<', at)
        .orderBy([{ column: 'customer_id' }, { column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }])
        .select('customer_id', 'mrr_after')
        .as('latest'),
    )
    .where('mrr_after', '>', 0)
    .orderBy(order === 'mrr' ? [{ column: 'mrr_after', order: 'desc' }, { column: 'customer_id' }] : [{ column: 'customer_id' }])
    .limit(limit);
  return rows.map((r) => ({ customerId: r.customer_id, mrr: r.mrr_after }));
}

/**
 * The workspace's customers with a movement still ahead (a cancellation for the end of
 * the period is stored dated when it takes effect), each with the MRR before the first
 * of them: what they pay now. A customer's movements chain (each one's MRR before is
 * the one before's MRR after), so a customer with nothing ahead pays what their summary
 * row says, after every movement: CURRENT_MRR takes one or the other. One pass over the
 * movements dated ahead (the (workspace_id, at) index), whatever the workspace's size.
 * Join it as `ahead` beside analytics_customers as `a`.
 */
export function movementsAhead(db: Db, workspaceId: string): Knex.QueryBuilder {
  return db('analytics_movements')
    .distinctOn('customer_id')
    .where({ workspace_id: workspaceId })
    .andWhere('at', '>', db.fn.now())
    .orderBy([{ column: 'customer_id' }, { column: 'at' }, { column: 'id' }])
    .select('customer_id', 'mrr_before')
    .as('ahead');
}
/** A customer's MRR now, in the reporting currency: see movementsAhead. */
export const CURRENT_MRR = 'coalesce(ahead.mrr_before, a.mrr, 0)';

/** Members of a cohort with their MRR now. */
export async function cohortMembers(db: Db, workspaceId: string, cohortMonth: string, limit: number, order: DrilldownOrder = 'mrr'): Promise<{ customerId: string; mrr: number }[]> {
  const rows = await db('analytics_customers as a')
    .leftJoin(movementsAhead(db, workspaceId), 'ahead.customer_id', 'a.customer_id')
    .where({ 'a.workspace_id': workspaceId, 'a.cohort_month': cohortMonth })
    .orderBy(order === 'mrr' ? [{ column: 'mrr', order: 'desc' }, { column: 'a.customer_id' }] : [{ column: 'a.customer_id' }])
    .limit(limit)
    .select<{ customer_id: string; mrr: string | number }[]>('a.customer_id', db.raw(`${CURRENT_MRR} as mrr`));
  return rows.map((r) => ({ customerId: r.customer_id, mrr: Number(r.mrr) }));
}

/** Stores the analytics settings under settings.analytics, leaving the workspace's other settings alone. */
export async function storeAnalyticsSettings(db: Db, workspaceId: string, settings: AnalyticsSettings): Promise<void> {
  const updated = await db('workspaces')
    .where({ id: workspaceId })
    .update({ settings: db.raw(`jsonb_set(settings, '{analytics}', ?::jsonb)`, [JSON.stringify(settings)]), updated_at: db.fn.now() });
  if (updated === 0) throw new Error(`unknown workspace ${workspaceId}`);
}

/** Stores an NPS answer; one sent again under its `answerId` is not stored twice (the first one's id comes back). */
export async function insertNpsResponse(db: Db, workspaceId: string, signal: NpsSignal, answerId?: string): Promise<{ id: number; duplicate: boolean; same: boolean }> {
  const [row] = await db('nps_responses')
    .insert({ workspace_id: workspaceId, customer_id: signal.customerId, score: signal.score, at: signal.at, answer_id: answerId ?? null })
    .onConflict(db.raw('(workspace_id, answer_id) where answer_id is not null'))
    .ignore()
    .returning<{ id: number }[]>('id');
  if (row) return { id: row.id, duplicate: false, same: true };
  // Nothing stored means the id was taken: only answers with one can conflict.
  const first = await db('nps_responses').where({ workspace_id: workspaceId, answer_id: answerId ?? null }).first<{ id: number; customer_id: string; score: number } | undefined>('id', 'customer_id', 'score');
  if (!first) throw new Error(`NPS answer ${answerId ?? '(no id)'} was neither stored nor found`);
  // `same`: the first answer under the id says what this one says (a retry), not another answer reusing its id.
  return { id: first.id, duplicate: true, same: first.customer_id === signal.customerId && first.score === signal.score };
}

/** Records that the workspace's stored analytics follow this code's rules (domain/mrr/rules-version.ts). */
export async function markAnalyticsRules(db: Db, workspaceId: string): Promise<void> {
  await db('workspaces').where({ id: workspaceId }).update({ analytics_rules: ANALYTICS_RULES_VERSION });
}

/** Marks the workspace's stored analytics as to be recomputed (what they were computed from changed under them); see markAnalyticsStale. */
export async function clearAnalyticsRules(db: Db, workspaceId: string): Promise<void> {
  await db('workspaces').where({ id: workspaceId }).update({ analytics_rules: null });
}

/** Whether the workspace's stored analytics follow older rules than this code's, or none known. */
export async function analyticsStale(db: Db, workspaceId: string): Promise<boolean> {
  const row = await db('workspaces').where({ id: workspaceId }).first<{ analytics_rules: number | null } | undefined>('analytics_rules');
  return row !== undefined && (row.analytics_rules === null || row.analytics_rules < ANALYTICS_RULES_VERSION);
}

/** The worker catch-up's lock of one of its steps for a workspace, for the transaction, if no other worker holds it (workers/catch-up.ts). */
export async function tryCatchUpLock(trx: Db, step: 'prices' | 'products' | 'analytics', workspaceId: string): Promise<boolean> {
  const { rows } = await trx.raw<{ rows: { got: boolean }[] }>('select pg_try_advisory_xact_lock(hashtext(?)) as got', [`catch-up:${step}:${workspaceId}`]);
  return rows[0]?.got === true;
}

/** The workspaces with a mirror whose stored analytics follow older rules than this code's, or none known. */
export async function workspacesWithStaleAnalytics(db: Db): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `select w.id from workspaces w
      where (w.analytics_rules is null or w.analytics_rules < ?)
        and (exists (select 1 from stripe_subscriptions s where s.workspace_id = w.id) or exists (select 1 from stripe_invoices i where i.workspace_id = w.id))
      order by w.id`,
    [ANALYTICS_RULES_VERSION],
  );
  return rows.map((r) => r.id);
}
