/**
 * `npm run bench -- churn-risk [--customers 10000] [--days 90] [--reads 5]`
 *
 * What the churn risk costs to read (db/churn-risk.ts): worked out when read, from
 * the subscriptions, dunnings, movements, NPS answers and the product's signals, it
 * has no column to sort by. On a throwaway Postgres, a workspace of `--customers`
 * customers, each with a live subscription and `--days` days of signals (two usage
 * metrics a day and a login most days, one in ten fading over the window, tickets
 * here and there), a tenth with a cancellation scheduled, a twentieth in dunning, a
 * few contractions and NPS answers. Timed, medians of `--reads`:
 * - one customer's risk, as their page reads it;
 * - the list sorted by risk: every customer scored, sorted, a page of 50 cut;
 * - the backtest's default: 26 weekly checks over 180 days, on its sample of 2,000
 *   customers (db/churn-risk.ts, BACKTEST_SAMPLE).
 * Baseline: a page of the list by newest (no risk but the page's 50); ratio: the list
 * by risk to it. Prints progress, then one JSON line; records BENCHMARKS.md.
 */
import { parseArgs } from 'node:util';
import { BACKTEST_SAMPLE, churnBacktest, churnRisks } from '../db/churn-risk';
import { listCustomers } from '../db/customer-list';
import type { Knex } from '../db/knex';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { percentile, recordBenchmark } from './report';
import { benchDatabase } from './_database';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '10000' },
    days: { type: 'string', default: '90' },
    reads: { type: 'string', default: '5' },
  },
});
const customers = Number(values.customers);
const days = Number(values.days);
const reads = Number(values.reads);
for (const [name, v] of [['customers', customers], ['days', days], ['reads', reads]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}

const ws = 'ws_bench';
const progress = (msg: string) => console.error(`[bench churn-risk] ${msg}`);

/** Fills the workspace with SQL alone (generate_series): the figures are about the reads, not the seeding. */
async function seed(db: Knex): Promise<number> {
  await db('workspaces').insert({ id: ws, name: 'Benchmark' });
  await db.raw(
    `insert into stripe_customers (workspace_id, id, created, stripe_state_at)
       select ?, 'cus_' || n, now() - (n % 700) * interval '1 day', now() from generate_series(1, ?) n`,
    [ws, customers],
  );
  await db.raw(
    `insert into stripe_subscriptions (workspace_id, id, customer_id, status, currency, cancel_at_period_end, canceled_at, start_date, current_period_end, created, stripe_state_at)
       select ?, 'sub_' || n, 'cus_' || n, case when n % 20 = 0 then 'past_due' else 'active' end, 'usd',
              n % 10 = 0, case when n % 10 = 0 then now() - (n % 25) * interval '1 day' end,
              now() - (n % 700 + 1) * interval '1 day', now() + (n % 30) * interval '1 day', now() - (n % 700 + 1) * interval '1 day', now()
         from generate_series(1, ?) n`,
    [ws, customers],
  );
  await db.raw(
    `insert into dunning_cases (workspace_id, invoice_id, customer_id, workflow_id, currency, amount_due, failed_at)
       select ?, 'in_' || n, 'cus_' || n, 'dunning:' || n, 'usd', 5000, now() - (n % 14) * interval '1 day' from generate_series(20, ?, 20) n`,
    [ws, customers],
  );
  await db.raw(
    `insert into analytics_movements (workspace_id, customer_id, at, kind, amount, mrr_before, mrr_after, currency)
       select ?, 'cus_' || n, now() - (n % 200) * interval '1 day', case when n % 3 = 0 then 'contraction' else 'expansion' end, 1000, 5000, 6000, 'usd'
         from generate_series(7, ?, 7) n`,
    [ws, customers],
  );
  await db.raw(`insert into nps_responses (workspace_id, customer_id, score, at) select ?, 'cus_' || n, n % 11, now() - (n % 90) * interval '1 day' from generate_series(3, ?, 3) n`, [ws, customers]);
  // Signals: each customer's days; one in ten fades over the window.
  await db.raw(
    `insert into product_signals (workspace_id, signal_id, customer_id, kind, metric, quantity, occurred_at)
       select ?, m || '-' || n || '-' || d, 'cus_' || n, 'usage', m,
              greatest(0, (20 + n % 50) * case when n % 10 = 0 then (d::float / ?) else 1 end)::bigint,
              now() - d * interval '1 day'
         from generate_series(1, ?) n, generate_series(1, ?) d, unnest(array['reports_generated', 'dashboards_shared']) m`,
    [ws, days, customers, days],
  );
  await db.raw(
    `insert into product_signals (workspace_id, signal_id, customer_id, kind, occurred_at)
       select ?, 'login-' || n || '-' || d, 'cus_' || n, 'login', now() - d * interval '1 day' - interval '3 hours'
         from generate_series(1, ?) n, generate_series(1, ?) d where (n + d) % 4 <> 0`,
    [ws, customers, days],
  );
  await db.raw(
    `insert into product_signals (workspace_id, signal_id, customer_id, kind, ticket_id, ticket_status, ticket_priority, occurred_at)
       select ?, 'ticket-' || n || '-' || d, 'cus_' || n, 'ticket', 'T-' || n || '-' || d, case when d % 2 = 0 then 'opened' else 'solved' end,
              case when n % 7 = 0 then 'high' else 'normal' end, now() - d * interval '1 day'
         from generate_series(1, ?) n, generate_series(1, ?, 9) d where n % 5 = 0`,
    [ws, customers, days],
  );
  await db.raw('vacuum analyze');
  return Number((await db('product_signals').count<{ n: number }[]>({ n: '*' }))[0]!.n);
}

async function timed(label: string, runs: number, work: () => Promise<unknown>): Promise<number> {
  await work(); // untimed: warms the plans and the cache
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  const median = percentile(times, 50);
  progress(`${label}: median ${median.toFixed(1)} ms over ${runs} (max ${Math.max(...times).toFixed(1)} ms)`);
  return Number(median.toFixed(1));
}

async function main(): Promise<void> {
  const bench = benchDatabase(4);
  try {
    progress('starting Postgres');
    const db = await bench.open();
    progress(`seeding ${customers} customers with ${days} days of signals`);
    const signals = await seed(db);
    progress(`${signals} signals stored`);
    const ring = parseKeyring(generateKeySpec());
    const page = (sort: 'newest' | 'risk') => listCustomers(db, ring, ws, { sort, limit: 50, offset: 0 });

    const one = await timed("one customer's risk", reads * 4, () => churnRisks(db, ws, new Date(), ['cus_4242']));
    const newest = await timed('a page by newest (with its 50 risks)', reads, () => page('newest'));
    const byRisk = await timed('a page by risk (every customer scored)', reads, () => page('risk'));
    const high = [...(await churnRisks(db, ws, new Date())).values()].filter((r) => r.level === 'high').length;
    const backtest = await timed('the backtest (26 weekly checks)', Math.max(1, Math.ceil(reads / 2)), () => churnBacktest(db, ws, { days: 180, stepDays: 7, horizonDays: 90 }, new Date()));
    recordBenchmark(
      'churn-risk',
      `npm run bench -- churn-risk --customers ${customers} --days ${days} --reads ${reads}`,
      {
        customers,
        signals,
        high_risk: high,
        one_customer_ms: one,
        list_by_risk_ms: byRisk,
        backtest_ms: backtest,
        baseline_ms: newest,
        ratio: Number((byRisk / newest).toFixed(1)),
      },
      [
        `a workspace of ${customers} customers with a live subscription and ${days} days of product signals (two usage metrics a day, logins on three days in four, a ticket every 9 days for one in five; one in ten fading), a tenth with a cancellation scheduled, a twentieth in dunning, contractions and NPS answers; medians after one untimed read`,
        `one_customer_ms: churnRisks for one customer (their page's read); list_by_risk_ms: the first page of the list sorted by risk (every customer scored); backtest_ms: 26 weekly checks over 180 days, 90-day horizon, on the backtest's sample of ${BACKTEST_SAMPLE} customers`,
        'baseline: the first page of the list by newest (the page and its 50 risks); ratio: the list by risk to it',
      ],
    );
  } finally {
    await bench.stop();
  }
}

void main().catch((err: Error) => {
  console.error(err);
  process.exitCode = 1;
});
