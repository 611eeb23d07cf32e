import type { Db, Knex } from '../db/knex';
import {
  applyAggregateDelta,
  insertMovements,
  insertNpsResponse,
  loadAnalyticsSettings,
  loadCustomerHistory,
  loadCustomerMovements,
  loadExchangeRates,
  loadNpsSignals,
  loadWorkspaceHistories,
  replaceAggregates,
  replaceCustomerAnalytics,
} from '../db/analytics';
import {
  aggregateAll,
  cohortOf,
  computeCustomerMrr,
  contributionDelta,
  createConverter,
  customerContribution,
  monthLabel,
  type NpsSignal,
} from '../domain/mrr';

/*
 * Locks: a customer's recompute holds its workspace's analytics lock shared and the
 * customer's exclusively (two recomputes of one customer must not both subtract the
 * same old contribution); a workspace recompute holds the workspace lock exclusively.
 */
const workspaceLock = (trx: Knex.Transaction, workspaceId: string, shared: boolean) =>
  trx.raw(`select ${shared ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtext('analytics:' || ?))`, [workspaceId]);
const customerLock = (trx: Knex.Transaction, workspaceId: string, customerId: string) =>
  trx.raw(`select pg_advisory_xact_lock(hashtext('analytics:' || ? || ':' || ?))`, [workspaceId, customerId]);

export interface RecomputeResult {
  customerId: string;
  movements: number;
  mrr: number;
  warnings: string[];
}

/**
 * Recomputes one customer's MRR movements from the mirror and moves the stored
 * aggregates by the difference of their contribution. The relay calls it for every
 * Stripe event of the customer; running it twice changes nothing.
 */
export async function recomputeCustomer(db: Knex, workspaceId: string, customerId: string): Promise<RecomputeResult> {
  return db.transaction(async (trx) => {
    await workspaceLock(trx, workspaceId, true);
    await customerLock(trx, workspaceId, customerId);
    return recomputeCustomerIn(trx, workspaceId, customerId);
  });
}

async function recomputeCustomerIn(trx: Db, workspaceId: string, customerId: string): Promise<RecomputeResult> {
  const settings = await loadAnalyticsSettings(trx, workspaceId);
  // Sequential: a transaction is one connection.
  const history = await loadCustomerHistory(trx, workspaceId, customerId);
  const rates = await loadExchangeRates(trx, settings.reportingCurrency);
  const nps = await loadNpsSignals(trx, workspaceId, customerId);
  const before = await loadCustomerMovements(trx, workspaceId, customerId);
  const result = history
    ? computeCustomerMrr(history, settings, createConverter(settings.reportingCurrency, rates))
    : { movements: [], warnings: [] };
  const delta = contributionDelta(customerContribution(before, nps), customerContribution(result.movements, nps));
  await applyAggregateDelta(trx, workspaceId, delta);
  await replaceCustomerAnalytics(trx, workspaceId, settings.reportingCurrency, customerId, result.movements, result.warnings, cohortOf(result.movements));
  return { customerId, movements: result.movements.length, mrr: result.movements.at(-1)?.mrrAfter ?? 0, warnings: result.warnings };
}

/**
 * Records an NPS answer and moves the cohort NPS aggregate by the change of the
 * customer's latest answer. Answers are only ever added, and each addition applies
 * its own difference here, so a customer recompute (which sees the same answers
 * before and after) never needs the answers as they were.
 */
export async function recordNpsAnswer(db: Knex, workspaceId: string, signal: NpsSignal): Promise<number> {
  return db.transaction(async (trx) => {
    await workspaceLock(trx, workspaceId, true);
    await customerLock(trx, workspaceId, signal.customerId);
    const before = await loadNpsSignals(trx, workspaceId, signal.customerId);
    const id = await insertNpsResponse(trx, workspaceId, signal);
    const movements = await loadCustomerMovements(trx, workspaceId, signal.customerId);
    const delta = contributionDelta(customerContribution(movements, before), customerContribution(movements, [...before, signal]));
    await applyAggregateDelta(trx, workspaceId, delta);
    return id;
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
    const npsByCustomer = new Map<string, NpsSignal[]>();
    for (const s of nps) npsByCustomer.set(s.customerId, [...(npsByCustomer.get(s.customerId) ?? []), s]);
    const results = histories.map((h) => computeCustomerMrr(h, settings, converter));
    const agg = aggregateAll(results.map((r) => customerContribution(r.movements, npsByCustomer.get(r.customerId) ?? [])));

    await trx('analytics_movements').where({ workspace_id: workspaceId }).delete();
    await trx('analytics_customers').where({ workspace_id: workspaceId }).delete();
    await insertMovements(trx, workspaceId, settings.reportingCurrency, results.flatMap((r) => r.movements));
    const customerRows = results.map((r) => {
      const cohort = cohortOf(r.movements);
      return {
        workspace_id: workspaceId,
        customer_id: r.customerId,
        cohort_month: cohort === null ? null : monthLabel(cohort),
        mrr: r.movements.at(-1)?.mrrAfter ?? 0,
        currency: settings.reportingCurrency,
        warnings: JSON.stringify(r.warnings),
      };
    });
    for (let i = 0; i < customerRows.length; i += 2000) await trx('analytics_customers').insert(customerRows.slice(i, i + 2000));
    await replaceAggregates(trx, workspaceId, agg);
    return {
      customers: results.length,
      movements: results.reduce((a, r) => a + r.movements.length, 0),
      mrr: results.reduce((a, r) => a + (r.movements.at(-1)?.mrrAfter ?? 0), 0),
      warnings: results.reduce((a, r) => a + r.warnings.length, 0),
    };
  });
}

/** Activities for the worker: createActivities(deps) style. */
export function createAnalyticsActivities(deps: { db: Knex }) {
  return {
    recomputeCustomerAnalytics: (workspaceId: string, customerId: string) => recomputeCustomer(deps.db, workspaceId, customerId),
    recomputeWorkspaceAnalytics: (workspaceId: string) => recomputeWorkspace(deps.db, workspaceId),
    recordNpsAnswer: (workspaceId: string, signal: NpsSignal) => recordNpsAnswer(deps.db, workspaceId, signal),
  };
}

export type AnalyticsActivities = ReturnType<typeof createAnalyticsActivities>;
