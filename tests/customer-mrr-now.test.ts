import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeWorkspace } from '../activities/analytics';
import { cohortMembers } from '../db/analytics';
import { createApiToken } from '../db/api-tokens';
import { seedMirror } from '../db/analytics-seed';
import { listCustomers } from '../db/customer-list';
import { customerProfile } from '../db/customer-profile';
import { insertWorkspace } from '../db/workspaces';
import { DAY_MS } from '../domain/durations';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { CustomerBuilder } from './domain/mrr-builder';
import { startApi } from './helpers/api';
import { freshDatabase } from './helpers/db';

/**
 * A cancellation for the end of the period is stored as a churn movement dated when it
 * takes effect (docs/metrics.md), so a customer's last movement can lie ahead. Until
 * then they still pay: the customer list, their page and the cohort drill-down show
 * what they pay now, not what they will pay after every change already known.
 */
const keyring = parseKeyring(generateKeySpec());
const ws = 'ws_mrrNow';
let database: Awaited<ReturnType<typeof freshDatabase>>;

/** YYYY-MM of the month `back` months before this one. */
const monthsAgo = (back: number) => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1)).toISOString().slice(0, 7);
};

beforeAll(async () => {
  database = await freshDatabase();
  await insertWorkspace(database.db, keyring, { id: ws, name: 'MRR now', webhookSecret: 'whsec_mrrNow' });
  const endsSoon = new Date(Date.now() + 20 * DAY_MS);
  const ended = new Date(Date.now() - 20 * DAY_MS);
  await seedMirror(database.db, ws, [
    // Cancelled for the end of a period that runs 20 more days: paying until then.
    new CustomerBuilder('cus_leaving')
      .price('price_leaving', 9_900)
      .subscription('sub_leaving', { items: ['price_leaving'], cancel_at: endsSoon, canceled_at: new Date(), current_period_end: endsSoon })
      .monthly('sub_leaving', 'price_leaving', 9_900, monthsAgo(3), 4)
      .build(),
    // Gone 20 days ago: paying nothing now.
    new CustomerBuilder('cus_gone')
      .price('price_gone', 4_900)
      .subscription('sub_gone', { items: ['price_gone'], status: 'canceled', cancel_at: ended, canceled_at: ended, ended_at: ended })
      .monthly('sub_gone', 'price_gone', 4_900, monthsAgo(3), 3)
      .build(),
  ]);
  await recomputeWorkspace(database.db, ws);
}, 60_000);

afterAll(async () => {
  await database?.drop();
});

describe("a customer's MRR now", () => {
  it('counts a cancellation only once it takes effect', async () => {
    const movements = await database.db('analytics_movements').where({ workspace_id: ws, customer_id: 'cus_leaving' }).orderBy('at').select('kind', 'at');
    // The churn is already stored, dated ahead: what the summary row's MRR is after.
    expect(movements.map((m: { kind: string }) => m.kind)).toEqual(['new', 'churn']);
    expect((movements[1] as { at: Date }).at.getTime()).toBeGreaterThan(Date.now());

    const listed = await listCustomers(database.db, keyring, ws, { sort: 'mrr', limit: 10, offset: 0 });
    expect(listed.customers.map((c) => [c.customerId, c.mrr])).toEqual([
      ['cus_leaving', 9_900],
      ['cus_gone', 0],
    ]);
    expect((await customerProfile(database.db, keyring, ws, 'cus_leaving'))?.mrr).toBe(9_900);
    expect((await customerProfile(database.db, keyring, ws, 'cus_gone'))?.mrr).toBe(0);
    const cohort = await cohortMembers(database.db, ws, monthsAgo(3), 10);
    expect(cohort).toEqual([
      { customerId: 'cus_leaving', mrr: 9_900 },
      { customerId: 'cus_gone', mrr: 0 },
    ]);
  });

  it("orders a drill-down by customer, not by MRR, for a role from whom MRR is hidden", async () => {
    const api = await startApi(database.db, keyring);
    try {
      const ids = async (role: 'viewer' | 'finance', path: string) => {
        const { token } = await createApiToken(database.db, { workspaceId: ws, role, name: `${role} ${path}`, createdBy: 'test' });
        const res = await api.request('GET', `/workspaces/${ws}/metrics/${path}`, { token });
        expect(res.status).toBe(200);
        return (res.body as { customers: { customerId: string }[] }).customers.map((c) => c.customerId);
      };
      const cohort = `cohorts/drilldown?cohort=${monthsAgo(3)}`;
      expect(await ids('finance', cohort)).toEqual(['cus_leaving', 'cus_gone']);
      // The biggest payer first would tell a viewer whose MRR is bigger.
      expect(await ids('viewer', cohort)).toEqual(['cus_gone', 'cus_leaving']);
      const paying = `mrr/drilldown?period=${monthsAgo(2)}`;
      expect(await ids('finance', paying)).toEqual(['cus_leaving', 'cus_gone']);
      expect(await ids('viewer', paying)).toEqual(['cus_gone', 'cus_leaving']);
    } finally {
      await api.close();
    }
  });
});
