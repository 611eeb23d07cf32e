/**
 * `npm run bench -- customer-list [--customers 20000] [--movements 12] [--reads 15]`
 *
 * What the customer list costs sorted by MRR now (db/customer-list.ts): a customer's
 * MRR now is the one before their first movement still ahead (a cancellation for the
 * end of the period is stored dated when it takes effect), else their summary's, so
 * the sort reads the movements dated ahead besides the summaries. On a throwaway
 * Postgres, a workspace of `--customers` customers, each with `--movements` movements
 * over the past years and one in ten with a churn still ahead. Timed, medians of
 * `--reads`: the first page of 50 by MRR, a page halfway down, a cohort's members by
 * MRR; baseline: the first page by newest. Ratio: the first page by MRR to the
 * baseline. Prints progress, then one JSON line; records BENCHMARKS.md.
 */
import { parseArgs } from 'node:util';
import { cohortMembers } from '../db/analytics';
import { listCustomers, type CustomerListQuery } from '../db/customer-list';
import { sealCustomerPii } from '../db/customer-pii';
import { DAY_MS } from '../domain/durations';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { percentile, recordBenchmark } from './report';
import { benchDatabase } from './_database';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '20000' },
    movements: { type: 'string', default: '12' },
    reads: { type: 'string', default: '15' },
  },
});
const customers = Number(values.customers);
const perCustomer = Number(values.movements);
const reads = Number(values.reads);
for (const [name, v] of [['customers', customers], ['movements', perCustomer], ['reads', reads]] as const) {
  if (!Number.isInteger(v) || v < 2) throw new Error(`--${name} must be an integer of at least 2`);
}

const ws = 'ws_bench';
const progress = (msg: string) => console.error(`[bench customer-list] ${msg}`);
const COHORT = '2024-01';

async function main(): Promise<void> {
  const bench = benchDatabase(2);
  try {
    progress('starting Postgres');
    const db = await bench.open();
    const ring = parseKeyring(generateKeySpec());
    await db('workspaces').insert({ id: ws, name: 'Benchmark' });
    const now = Date.now();
    progress(`writing ${customers} customers with ${perCustomer} movements each`);
    for (let start = 0; start < customers; start += 1_000) {
      const people = [];
      const summaries = [];
      const movements = [];
      for (let i = start; i < Math.min(customers, start + 1_000); i++) {
        const id = `cus_${String(i).padStart(8, '0')}`;
        people.push({ workspace_id: ws, stripe_state_at: new Date(), created: new Date(Date.UTC(2024, 0, 1) + i * 60_000), ...sealCustomerPii(ring, ws, { id, email: `billing${i}@example.com`, name: `Customer ${i}` }) });
        // A new business, then expansions a month apart up to now; one in ten churns 20 days from now.
        const leaving = i % 10 === 0;
        const past = leaving ? perCustomer - 1 : perCustomer;
        let mrr = 0;
        for (let m = 0; m < past; m++) {
          const amount = 1_000 + ((i * 7 + m * 13) % 50) * 100;
          movements.push({ workspace_id: ws, customer_id: id, at: new Date(now - (past - m) * 30 * DAY_MS), kind: m === 0 ? 'new' : 'expansion', amount, mrr_before: mrr, mrr_after: mrr + amount, currency: 'usd' });
          mrr += amount;
        }
        if (leaving) movements.push({ workspace_id: ws, customer_id: id, at: new Date(now + 20 * DAY_MS), kind: 'churn', amount: -mrr, mrr_before: mrr, mrr_after: 0, currency: 'usd' });
        summaries.push({ workspace_id: ws, customer_id: id, cohort_month: i % 4 === 0 ? COHORT : '2024-02', mrr: leaving ? 0 : mrr, currency: 'usd', warnings: '[]' });
      }
      await db('stripe_customers').insert(people);
      await db('analytics_customers').insert(summaries);
      // A statement takes at most 65,535 parameters: 8 a movement.
      for (let m = 0; m < movements.length; m += 5_000) await db('analytics_movements').insert(movements.slice(m, m + 5_000));
    }
    await db.raw('vacuum analyze stripe_customers, analytics_customers, analytics_movements');

    const median = async (read: () => Promise<unknown>): Promise<number> => {
      await read(); // untimed: warms the caches
      const times: number[] = [];
      for (let r = 0; r < reads; r++) {
        const start = performance.now();
        await read();
        times.push(performance.now() - start);
      }
      return percentile(times, 50);
    };
    const page = (q: Pick<CustomerListQuery, 'sort' | 'offset'>) => listCustomers(db, ring, ws, { limit: 50, ...q });
    // A customer leaving in 20 days is listed at what they pay now.
    const leaving = (await listCustomers(db, ring, ws, { sort: 'mrr', limit: 1, offset: 0, idPrefix: 'cus_00000010' })).customers[0];
    if (!leaving || leaving.mrr <= 0) throw new Error(`a customer with a churn ahead is listed at ${leaving?.mrr ?? 'nothing'}, not at their MRR now`);
    const byMrr = await median(() => page({ sort: 'mrr', offset: 0 }));
    progress(`first page by MRR: ${byMrr.toFixed(1)} ms`);
    const halfway = await median(() => page({ sort: 'mrr', offset: Math.floor(customers / 2) }));
    progress(`a page halfway down by MRR: ${halfway.toFixed(1)} ms`);
    const cohort = await median(() => cohortMembers(db, ws, COHORT, 50));
    progress(`a cohort's members by MRR: ${cohort.toFixed(1)} ms`);
    const newest = await median(() => page({ sort: 'newest', offset: 0 }));
    progress(`first page by newest (baseline): ${newest.toFixed(1)} ms`);

    recordBenchmark(
      'customer-list',
      `npm run bench -- customer-list --customers ${customers} --movements ${perCustomer} --reads ${reads}`,
      {
        customers,
        movements: customers * perCustomer,
        mrr_first_page_ms: Number(byMrr.toFixed(2)),
        mrr_halfway_page_ms: Number(halfway.toFixed(2)),
        cohort_members_ms: Number(cohort.toFixed(2)),
        baseline_ms: Number(newest.toFixed(2)),
        ratio: Number((byMrr / newest).toFixed(2)),
      },
      [
        `${customers} customers with ${perCustomer} movements each, one in ten with a churn dated 20 days ahead; pages of 50, median of ${reads} reads each`,
        "mrr_first_page, mrr_halfway_page: the list sorted by MRR now (the MRR before a customer's first movement ahead, else their summary's); cohort_members: a quarter of the customers' cohort, by MRR now",
        'baseline: the first page by newest; ratio: mrr_first_page to it',
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
