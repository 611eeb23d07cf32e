import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeCustomer, recomputeWorkspace, recordNpsAnswer } from '../activities/analytics';
import { loadAggregates, loadCustomerMovements, upsertExchangeRates } from '../db/analytics';
import { clearCustomerMirror, seedMirror } from '../db/analytics-seed';
import {
  aggregateAll,
  analyticsSettingsSchema,
  computeCustomerMrr,
  createConverter,
  customerContribution,
  type CustomerHistory,
  type ExchangeRate,
} from '../domain/mrr';
import { freshDatabase } from './helpers/db';
import { customerSpec, historyOf } from './domain/mrr-arbitrary';

const rates: ExchangeRate[] = [
  { currency: 'eur', on: '2024-01-01', rate: 1.08 },
  { currency: 'eur', on: '2025-01-01', rate: 1.13 },
];
const settings = analyticsSettingsSchema.parse({ pastDueGraceDays: 7 });

/** What the stored aggregates must equal: the domain's full computation in memory. */
const expected = (histories: CustomerHistory[]) =>
  aggregateAll(histories.map((h) => customerContribution(computeCustomerMrr(h, settings, createConverter('usd', rates)).movements)));

describe('analytics storage: incremental recompute against real Postgres', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const ws = 'ws_analytics';
  const histories = fc.sample(customerSpec, { numRuns: 12, seed: 42 }).map((spec, i) => historyOf(`cus_${i}`, spec));

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Analytics', settings: JSON.stringify({ analytics: { pastDueGraceDays: 7 } }) });
    await upsertExchangeRates(database.db, 'usd', rates);
    await seedMirror(database.db, ws, histories);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('a full recompute stores what the domain computes', async () => {
    const result = await recomputeWorkspace(database.db, ws);
    expect(result.customers).toBe(histories.length);
    expect(result.movements).toBeGreaterThan(0);
    expect(await loadAggregates(database.db, ws)).toEqual(expected(histories));
    const stored = await loadCustomerMovements(database.db, ws, 'cus_0');
    expect(stored).toEqual(computeCustomerMrr(histories[0]!, settings, createConverter('usd', rates)).movements);
  });

  it('recomputing one changed customer gives the same aggregates as a full recompute', async () => {
    const changed = [...histories];
    for (const [i, spec] of fc.sample(customerSpec, { numRuns: 3, seed: 7 }).entries()) {
      const id = `cus_${i * 4}`;
      changed[i * 4] = historyOf(id, spec);
      await clearCustomerMirror(database.db, ws, id);
      await seedMirror(database.db, ws, [changed[i * 4]!]);
      await recomputeCustomer(database.db, ws, id);
    }
    const incremental = await loadAggregates(database.db, ws);
    expect(incremental).toEqual(expected(changed));
    await recomputeWorkspace(database.db, ws);
    expect(await loadAggregates(database.db, ws)).toEqual(incremental);
  });

  it('concurrent recomputes of the same customer count them once', async () => {
    const before = await loadAggregates(database.db, ws);
    await Promise.all([1, 2, 3, 4].map(() => recomputeCustomer(database.db, ws, 'cus_1')));
    expect(await loadAggregates(database.db, ws)).toEqual(before);
  });

  it('concurrent recomputes of different customers sharing aggregate rows add up (no lost update, no deadlock)', async () => {
    const changed = fc.sample(customerSpec, { numRuns: histories.length, seed: 99 }).map((spec, i) => historyOf(`cus_${i}`, spec));
    for (const h of changed) await clearCustomerMirror(database.db, ws, h.customer.id);
    await seedMirror(database.db, ws, changed);
    await Promise.all(changed.map((h) => recomputeCustomer(database.db, ws, h.customer.id)));
    const incremental = await loadAggregates(database.db, ws);
    expect(incremental).toEqual(expected(changed));
    await recomputeWorkspace(database.db, ws);
    expect(await loadAggregates(database.db, ws)).toEqual(incremental);
  });

  it('a customer the mirror does not know contributes nothing', async () => {
    const before = await loadAggregates(database.db, ws);
    expect(await recomputeCustomer(database.db, ws, 'cus_unknown')).toEqual({ customerId: 'cus_unknown', movements: 0, mrr: 0, warnings: [] });
    expect(await loadAggregates(database.db, ws)).toEqual(before);
  });

  it('NPS answers move the cohort NPS by the change of the latest answer, as a full recompute would', async () => {
    await recordNpsAnswer(database.db, ws, { customerId: 'cus_1', score: 3, at: new Date('2025-01-01T00:00:00Z') });
    await recordNpsAnswer(database.db, ws, { customerId: 'cus_1', score: 10, at: new Date('2025-02-01T00:00:00Z') });
    await recordNpsAnswer(database.db, ws, { customerId: 'cus_2', score: 6, at: new Date('2025-02-01T00:00:00Z') });
    await recomputeCustomer(database.db, ws, 'cus_1');
    const incremental = await loadAggregates(database.db, ws);
    await recomputeWorkspace(database.db, ws);
    expect(await loadAggregates(database.db, ws)).toEqual(incremental);
    expect([...incremental.nps.values()].reduce((a, r) => a + r.responses, 0)).toBeGreaterThan(0);
  });
});
