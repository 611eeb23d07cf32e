import type { Db, Knex } from '../db/knex';
import { groupBy } from '../domain/group-by';
import {
  applyAggregateDelta,
  clearAnalyticsRules,
  insertCustomerSummaries,
  insertMovements,
  insertNpsResponse,
  loadAnalyticsSettings,
  loadCustomerHistories,
  loadCustomerMovements,
  loadExchangeRates,
  loadNpsSignals,
  loadStoredAnalytics,
  loadWorkspaceHistories,
  markAnalyticsRules,
  replaceAggregates,
  writeAnalyticsChanges,
} from '../db/analytics';
import {
  aggregateAll,
  computeCustomerMrr,
  contributionDelta,
  contributionsDelta,
  createConverter,
  customerContribution,
  customerSummary,
  movementChanges,
  noMovementChanges,
  sameSummary,
  type NpsSignal,
} from '../domain/mrr';

/*
 * Locks: a customer's recompute holds its workspace's analytics lock shared and the
 * customer's exclusively (two recomputes of one customer must not both subtract the
 * same old contribution); a workspace recompute holds the workspace lock exclusively.
 * A batch of customers takes all their locks in one statement, in the order of the
 * lock keys, so two batches that share customers wait for each other and never deadlock.
 */
const workspaceLock = (trx: Knex.Transaction, workspaceId: string, shared: boolean) =>
  trx.raw(`select ${shared ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtext('analytics:' || ?))`, [workspaceId]);
const customerLockKey = `hashtext('analytics:' || ? || ':' || id)`;
const customerLocks = (trx: Knex.Transaction, workspaceId: string, customerIds: readonly string[]) =>
  // Ordered by the key itself (not the id): ids whose hashes collide still lock in one global order.
  trx.raw(`select pg_advisory_xact_lock(k) from (select distinct ${customerLockKey} as k from unnest(?::text[]) as id) keys order by k`, [workspaceId, [...customerIds]]);

const npsByCustomer = (signals: readonly NpsSignal[]) => groupBy(signals, (s) => s.customerId);

export interface RecomputeResult {
  customerId: string;
  movements: number;
  mrr: number;
  warnings: string[];
}

/**
 * Recomputes one customer's MRR movements from the mirror, writes the rows that
 * changed (domain/mrr/stored-changes.ts) and moves the stored aggregates by the
 * difference of their contribution; running it twice changes nothing. The same as
 * recomputeCustomers with one id.
 */
export async function recomputeCustomer(db: Knex, workspaceId: string, customerId: string): Promise<RecomputeResult> {
  const [result] = await recomputeCustomers(db, workspaceId, [customerId]);
  return result!;
}

/**
 * Recomputes a set of customers (what the relay runs for each delivery): the same
 * stored rows as recomputeCustomer for each id in turn, in one transaction whose
 * number of queries does not grow with the set (only the chunked inserts do, per
 * 2,000 rows). Results follow `customerIds` (a repeated id repeats its result); an
 * empty list touches nothing.
 */
export async function recomputeCustomers(db: Knex, workspaceId: string, customerIds: readonly string[]): Promise<RecomputeResult[]> {
  if (customerIds.length === 0) return [];
  const ids = [...new Set(customerIds)].sort();
  const results = await db.transaction(async (trx) => {
    await workspaceLock(trx, workspaceId, true);
    await customerLocks(trx, workspaceId, ids);
    return recomputeCustomersIn(trx, workspaceId, ids);
  });
  return customerIds.map((id) => results.get(id)!);
}

async function recomputeCustomersIn(trx: Db, workspaceId: string, customerIds: readonly string[]): Promise<Map<string, RecomputeResult>> {
  // Sequential: a transaction is one connection.
  const settings = await loadAnalyticsSettings(trx, workspaceId);
  const currency = settings.reportingCurrency;
  const rates = await loadExchangeRates(trx, currency);
  const histories = new Map((await loadCustomerHistories(trx, workspaceId, customerIds)).map((h) => [h.customer.id, h] as const));
  const stored = await loadStoredAnalytics(trx, workspaceId, customerIds);
  const converter = createConverter(currency, rates);
  const computed = customerIds.map((customerId) => {
    const history = histories.get(customerId);
    // The mirror knows nothing of the customer: no movements, and a summary row of zero.
    const { movements, warnings } = history ? computeCustomerMrr(history, settings, converter) : { movements: [], warnings: [] };
    const before = stored.movements.get(customerId) ?? [];
    const storedSummary = stored.summaries.get(customerId);
    const summary = customerSummary(movements, warnings, currency);
    return {
      customerId,
      movements,
      warnings,
      before,
      changes: movementChanges(before, movements, currency),
      summaryToWrite: storedSummary && sameSummary(storedSummary, summary) ? null : summary,
    };
  });
  // A customer whose movements stay as they were contributes to the aggregates as before.
  const moved = computed.filter((c) => !noMovementChanges(c.changes));
  if (moved.length > 0) {
    const nps = npsByCustomer(await loadNpsSignals(trx, workspaceId, moved.map((c) => c.customerId)));
    const delta = contributionsDelta(
      moved.map((c) => {
        const signals = nps.get(c.customerId) ?? [];
        return { before: customerContribution(c.before.map((s) => s.movement), signals), after: customerContribution(c.movements, signals) };
      }),
    );
    await applyAggregateDelta(trx, workspaceId, delta);
  }
  await writeAnalyticsChanges(trx, workspaceId, currency, {
    removedMovements: moved.flatMap((c) => c.changes.removed),
    addedMovements: moved.flatMap((c) => c.changes.added),
    summaries: computed.flatMap((c) => (c.summaryToWrite ? [{ customerId: c.customerId, summary: c.summaryToWrite }] : [])),
  });
  return new Map(
    computed.map((c) => [c.customerId, { customerId: c.customerId, movements: c.movements.length, mrr: c.movements.at(-1)?.mrrAfter ?? 0, warnings: c.warnings }] as const),
  );
}

/**
 * Records an NPS answer and moves the cohort NPS aggregate by the change of the
 * customer's latest answer. Answers are only ever added, and each addition applies
 * its own difference here, so a customer recompute (which sees the same answers
 * before and after) never needs the answers as they were.
 */
export async function recordNpsAnswer(db: Knex, workspaceId: string, signal: NpsSignal, answerId?: string): Promise<{ id: number; duplicate: boolean; same: boolean }> {
  return db.transaction(async (trx) => {
    await workspaceLock(trx, workspaceId, true);
    await customerLocks(trx, workspaceId, [signal.customerId]);
    const before = await loadNpsSignals(trx, workspaceId, [signal.customerId]);
    const stored = await insertNpsResponse(trx, workspaceId, signal, answerId);
    // An answer sent again under its id was counted the first time.
    if (stored.duplicate) return stored;
    const movements = await loadCustomerMovements(trx, workspaceId, signal.customerId);
    const delta = contributionDelta(customerContribution(movements, before), customerContribution(movements, [...before, signal]));
    await applyAggregateDelta(trx, workspaceId, delta);
    return stored;
  });
}

export interface WorkspaceRecomputeResult {
  customers: number;
  movements: number;
  mrr: number;
  warnings: number;
}

/** Recomputes every customer of a workspace and rewrites its aggregates (after a sync or a settings change). */
export async function recomputeWorkspace(db: Knex, workspaceId: string): Promise<WorkspaceRecomputeResult> {
  return db.transaction(async (trx) => {
    await workspaceLock(trx, workspaceId, false);
    const settings = await loadAnalyticsSettings(trx, workspaceId);
    const histories = await loadWorkspaceHistories(trx, workspaceId);
    const rates = await loadExchangeRates(trx, settings.reportingCurrency);
    const nps = await loadNpsSignals(trx, workspaceId);
    const converter = createConverter(settings.reportingCurrency, rates);
    const npsOf = npsByCustomer(nps);
    const results = histories.map((h) => computeCustomerMrr(h, settings, converter));
    const agg = aggregateAll(results.map((r) => customerContribution(r.movements, npsOf.get(r.customerId) ?? [])));

    await trx('analytics_movements').where({ workspace_id: workspaceId }).delete();
    await trx('analytics_customers').where({ workspace_id: workspaceId }).delete();
    await insertMovements(trx, workspaceId, settings.reportingCurrency, results.flatMap((r) => r.movements));
    await insertCustomerSummaries(trx, workspaceId, settings.reportingCurrency, results);
    await replaceAggregates(trx, workspaceId, agg);
    await markAnalyticsRules(trx, workspaceId);
    return {
      customers: results.length,
      movements: results.reduce((a, r) => a + r.movements.length, 0),
      mrr: results.reduce((a, r) => a + (r.movements.at(-1)?.mrrAfter ?? 0), 0),
      warnings: results.reduce((a, r) => a + r.warnings.length, 0),
    };
  });
}

/**
 * Marks the workspace's analytics as to be recomputed, once no recompute is under way:
 * one that began before what they are computed from changed would otherwise mark the
 * old figures as current when it commits.
 */
export async function markAnalyticsStale(db: Knex, workspaceId: string): Promise<void> {
  await db.transaction(async (trx) => {
    await workspaceLock(trx, workspaceId, false);
    await clearAnalyticsRules(trx, workspaceId);
  });
}

/** Activities for the worker: createActivities(deps) style. */
export function createAnalyticsActivities(deps: { db: Knex }) {
  return {
    recomputeCustomerAnalytics: (workspaceId: string, customerId: string) => recomputeCustomer(deps.db, workspaceId, customerId),
    recomputeWorkspaceAnalytics: (workspaceId: string) => recomputeWorkspace(deps.db, workspaceId),
    recordNpsAnswer: async (workspaceId: string, signal: NpsSignal) => (await recordNpsAnswer(deps.db, workspaceId, signal)).id,
  };
}

export type AnalyticsActivities = ReturnType<typeof createAnalyticsActivities>;
