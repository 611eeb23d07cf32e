import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeCustomer, recomputeCustomers, recomputeWorkspace } from '../activities/analytics';
import { insertNpsResponse, loadAggregates, upsertExchangeRates } from '../db/analytics';
import type { Knex } from '../db/knex';
import { upsertCustomers, upsertInvoices, upsertPrices, upsertProducts, upsertSubscriptions } from '../db/mirror';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { generateAccount } from '../sim/generator';
import { groupBy } from '../domain/group-by';
import { freshDatabase, statementsOf } from './helpers/db';

/*
 * recomputeCustomers (what the relay runs per delivery) against a simulated account
 * written through the sync's own upserts: its stored rows must be exactly those of a
 * full recompute and of recomputeCustomer one customer at a time.
 */

const ANALYTICS_TABLES = ['analytics_movements', 'analytics_customers', 'analytics_months', 'analytics_cohorts', 'analytics_cohort_nps'];

/** Every stored analytics row of the workspace, in key order, without row ids and timestamps. */
async function snapshot(db: Knex, ws: string) {
  const where = { workspace_id: ws };
  return {
    customers: await db('analytics_customers').where(where).orderBy('customer_id').select('customer_id', 'cohort_month', 'mrr', 'currency', 'warnings'),
    movements: await db('analytics_movements')
      .where(where)
      .orderBy(['customer_id', 'at', 'id'])
      .select('customer_id', 'at', 'kind', 'amount', 'mrr_before', 'mrr_after', 'currency', 'original'),
    months: await db('analytics_months').where(where).orderBy('month').select('*'),
    cohorts: await db('analytics_cohorts').where(where).orderBy(['cohort_month', 'month']).select('*'),
    nps: await db('analytics_cohort_nps').where(where).orderBy('cohort_month').select('*'),
  };
}

async function clearAnalytics(db: Knex, ws: string) {
  for (const table of ANALYTICS_TABLES) await db(table).where({ workspace_id: ws }).delete();
}

const chunks = <T>(items: readonly T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** One more unit on every per-unit invoice line of these customers: a seat added throughout their history. */
async function addSeat(db: Knex, ws: string, customerIds: readonly string[]) {
  const invoices = db('stripe_invoices').where({ workspace_id: ws }).whereIn('customer_id', [...customerIds]).select('id');
  const updated = await db('stripe_invoice_lines').where({ workspace_id: ws }).whereIn('invoice_id', invoices).whereNotNull('quantity').increment('quantity', 1);
  expect(updated).toBeGreaterThan(0);
}

describe('analytics: batch recompute of a set of customers', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_batch';
  const account = generateAccount({ seed: 'batch', customers: 240, months: 24 });
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Knex;
  let customerIds: string[];

  beforeAll(async () => {
    database = await freshDatabase();
    db = database.db;
    await db('workspaces').insert({ id: ws, name: 'Batch' });
    await upsertExchangeRates(db, 'usd', [
      { currency: 'eur', on: '2000-01-01', rate: 1.08 },
      { currency: 'gbp', on: '2000-01-01', rate: 1.27 },
    ]);
    const stateAt = new Date(account.now * 1000);
    await upsertProducts(db, ws, account.products.rows, stateAt);
    await upsertPrices(db, ws, account.prices.rows, stateAt);
    await upsertCustomers(db, ws, account.customers.rows, stateAt, keyring);
    await upsertSubscriptions(db, ws, account.subscriptions.rows, stateAt);
    await upsertInvoices(db, ws, account.invoices.rows, stateAt);
    customerIds = account.customers.rows.map((c) => c.id);
    // NPS answers for every seventh customer, so the cohort NPS aggregate takes part.
    for (const [i, id] of customerIds.entries()) {
      if (i % 7 === 0) await insertNpsResponse(db, ws, { customerId: id, score: i % 11, at: new Date(stateAt.getTime() - i * 3_600_000) });
    }
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('over all customers in chunks stores exactly what a full recompute and one-by-one recomputes store', async () => {
    const full = await recomputeWorkspace(db, ws);
    expect(full.customers).toBe(customerIds.length);
    const fromFull = await snapshot(db, ws);
    expect(fromFull.movements.length).toBeGreaterThan(customerIds.length);
    expect(fromFull.nps.length).toBeGreaterThan(0);

    await clearAnalytics(db, ws);
    const results = [];
    for (const chunk of chunks(customerIds, 50)) results.push(...(await recomputeCustomers(db, ws, chunk)));
    expect(await snapshot(db, ws)).toEqual(fromFull);
    expect(results.map((r) => r.customerId)).toEqual(customerIds);
    expect(results.reduce((a, r) => a + r.movements, 0)).toBe(full.movements);
    expect(results.reduce((a, r) => a + r.mrr, 0)).toBe(full.mrr);

    await clearAnalytics(db, ws);
    const oneByOne = [];
    for (const id of customerIds) oneByOne.push(await recomputeCustomer(db, ws, id));
    expect(await snapshot(db, ws)).toEqual(fromFull);
    expect(oneByOne).toEqual(results);
  });

  it('runs a fixed number of queries however many customers it recomputes', async () => {
    const measure = async (ids: string[]) => {
      await clearAnalytics(db, ws);
      const { result, statements } = await statementsOf(db, () => recomputeCustomers(db, ws, ids));
      return { queries: statements.length, insertChunks: Math.ceil(result.reduce((a, r) => a + r.movements, 0) / 2000) };
    };
    // Customers with NPS answers, most of them paying: every aggregate table moves for both sets.
    const few = await measure(customerIds.filter((_, i) => i % 7 === 0).slice(0, 8));
    const all = await measure(customerIds);
    expect(few.queries).toBeGreaterThan(10);
    // Two locks, settings, rates, six mirror tables, stored movements and summaries, NPS, six aggregate statements, the movement inserts, the summary upsert, begin and commit.
    expect(all.queries - all.insertChunks).toBeLessThanOrEqual(24);
    // Only the chunked movement inserts grow, by one statement per 2,000 rows.
    expect(all.queries - all.insertChunks).toBe(few.queries - few.insertChunks);
    await recomputeWorkspace(db, ws);
  });

  it('moves the aggregates after mirror changes exactly as a full recompute computes them', async () => {
    const before = await snapshot(db, ws);
    // Real lifecycle changes: a further month of the account for every customer with an event, through the sync's upserts...
    const events: Stripe.Event[] = [];
    account.onEvent = (e) => events.push(e);
    account.advance(35 * 86_400);
    account.onEvent = null;
    const customerOf = (e: Stripe.Event) => {
      const object = e.data.object as { object?: string; id?: string; customer?: unknown };
      if (object.object === 'customer') return object.id ?? null;
      return typeof object.customer === 'string' ? object.customer : null;
    };
    const touched = [...new Set(events.map(customerOf).filter((c): c is string => c !== null))].sort();
    expect(touched.length).toBeGreaterThan(20);
    const changed = new Set(touched.slice(0, Math.ceil(touched.length / 2)));
    const stateAt = new Date(account.now * 1000);
    const customerIdOf = (c: string | { id: string }) => (typeof c === 'string' ? c : c.id);
    await upsertCustomers(db, ws, account.customers.rows.filter((c) => changed.has(c.id)), stateAt, keyring);
    await upsertSubscriptions(db, ws, account.subscriptions.rows.filter((s) => changed.has(customerIdOf(s.customer))), stateAt);
    await upsertInvoices(db, ws, account.invoices.rows.filter((i) => i.customer !== null && changed.has(customerIdOf(i.customer))), stateAt);
    // ...and a seat added to some customers who had no event.
    const seated = customerIds.filter((id) => !changed.has(id)).slice(0, 15);
    await addSeat(db, ws, seated);

    const batch = [...changed, ...seated];
    for (const chunk of chunks(batch, 40)) await recomputeCustomers(db, ws, chunk);
    const incremental = await snapshot(db, ws);
    expect(incremental.months).not.toEqual(before.months);
    await recomputeWorkspace(db, ws);
    expect(await snapshot(db, ws)).toEqual(incremental);
  });

  it('running the same batch twice changes nothing', async () => {
    const batch = customerIds.filter((_, i) => i % 3 === 0);
    await addSeat(db, ws, batch.slice(0, 5));
    const first = await recomputeCustomers(db, ws, batch);
    const once = await snapshot(db, ws);
    const second = await recomputeCustomers(db, ws, batch);
    expect(second).toEqual(first);
    expect(await snapshot(db, ws)).toEqual(once);
    await recomputeWorkspace(db, ws);
    expect(await snapshot(db, ws)).toEqual(once);
  });

  it('two concurrent batches sharing customers in opposite orders both finish and count each customer once', async () => {
    const a = customerIds.slice(0, 140);
    const b = customerIds.slice(90, 220).reverse();
    await addSeat(db, ws, customerIds.slice(60, 180));
    const before = await loadAggregates(db, ws);
    const runs = await Promise.all([recomputeCustomers(db, ws, a), recomputeCustomers(db, ws, b), recomputeCustomers(db, ws, [...a].reverse()), recomputeCustomers(db, ws, b)]);
    expect(runs.map((r) => r.length)).toEqual([a.length, b.length, a.length, b.length]);
    const concurrent = await snapshot(db, ws);
    expect(await loadAggregates(db, ws)).not.toEqual(before);
    await recomputeWorkspace(db, ws);
    expect(await snapshot(db, ws)).toEqual(concurrent);
  });

  it('an empty list does nothing; a repeated id is recomputed once and answered at each place', async () => {
    const before = await snapshot(db, ws);
    const empty = await statementsOf(db, () => recomputeCustomers(db, ws, []));
    expect(empty.result).toEqual([]);
    expect(empty.statements).toEqual([]);
    const [x, y] = [customerIds[3]!, customerIds[4]!];
    const results = await recomputeCustomers(db, ws, [x, y, x, 'cus_unknown_to_mirror']);
    expect(results.map((r) => r.customerId)).toEqual([x, y, x, 'cus_unknown_to_mirror']);
    expect(results[2]).toEqual(results[0]);
    expect(results[3]).toEqual({ customerId: 'cus_unknown_to_mirror', movements: 0, mrr: 0, warnings: [] });
    const after = await snapshot(db, ws);
    expect(after.movements).toEqual(before.movements);
    expect(after.months).toEqual(before.months);
  });

  it('writes only what changed: nothing for customers whose analytics stay, and only the moved rows of a customer who changed', async () => {
    await recomputeWorkspace(db, ws);
    const rows = async () =>
      db('analytics_movements').where({ workspace_id: ws }).orderBy(['customer_id', 'at']).select<{ id: number; customer_id: string; at: Date }[]>('id', 'customer_id', 'at');
    const summaryVersions = async () =>
      db('analytics_customers').where({ workspace_id: ws }).orderBy('customer_id').select<{ customer_id: string; xmin: string }[]>('customer_id', db.raw('xmin::text as xmin'));
    const writesOf = async (work: () => Promise<unknown>) =>
      (await statementsOf(db, work)).statements.map((st) => st.sql).filter((sql) => /^\s*(insert|update|delete)/i.test(sql));

    const before = await rows();
    const summariesBefore = await summaryVersions();
    expect(await writesOf(() => recomputeCustomers(db, ws, customerIds))).toEqual([]);
    expect(await rows()).toEqual(before);
    expect(await summaryVersions()).toEqual(summariesBefore);

    // A customer with a long history pays more on their latest invoice only.
    // (The first with four movements whose latest paid invoice bills its subscription for
    // a whole period: a proration is valued from its price, not its amount, and a latest
    // invoice of only one-off items or credits would change no movement.)
    const counts = groupBy(before, (r) => r.customer_id);
    let customer = '(none with four movements and a subscription billed last)';
    let latest: { id: string; period_start: Date } | undefined;
    const subscriptionLines = (invoiceId: string) => db('stripe_invoice_lines').where({ workspace_id: ws, invoice_id: invoiceId, type: 'subscription', proration: false }).where('amount', '>', 0);
    for (const [id, list] of counts) {
      if (list.length < 4) continue;
      const paid = await db('stripe_invoices')
        .where({ workspace_id: ws, customer_id: id, status: 'paid' })
        .orderBy('period_start', 'desc')
        .first<{ id: string; period_start: Date } | undefined>('id', 'period_start');
      if (paid && (await subscriptionLines(paid.id).first())) {
        [customer, latest] = [id, paid];
        break;
      }
    }
    const changedFrom = latest?.period_start ?? new Date(0);
    expect(await subscriptionLines(latest?.id ?? '(no paid invoice)').increment('amount', 1000)).toBeGreaterThan(0);
    const statements = await writesOf(() => recomputeCustomers(db, ws, customerIds));
    expect(statements.length).toBeGreaterThan(0);
    const after = await rows();
    const of = (list: { id: number; customer_id: string; at: Date }[]) => list.filter((r) => r.customer_id === customer);
    // Every other customer's rows are the very same rows; this one's history before the change stays as stored.
    expect(after.filter((r) => r.customer_id !== customer)).toEqual(before.filter((r) => r.customer_id !== customer));
    const earlier = of(before).filter((r) => r.at < changedFrom);
    expect(earlier.length).toBeGreaterThan(0);
    expect(of(after).filter((r) => r.at < changedFrom)).toEqual(earlier);
    expect(of(after)).not.toEqual(of(before));
    const changedSummaries = (await summaryVersions()).filter((r, i) => r.xmin !== summariesBefore[i]!.xmin).map((r) => r.customer_id);
    expect(changedSummaries.every((id) => id === customer)).toBe(true);
    // And what is stored is what a full recompute stores.
    const incremental = await snapshot(db, ws);
    await recomputeWorkspace(db, ws);
    expect(await snapshot(db, ws)).toEqual(incremental);
  });
});
