/**
 * `npm run bench -- customer-search [--customers 10000] [--reads 15]`
 *
 * What finding customers by a piece of their name costs (db/customer-list.ts): names
 * are sealed, so the database cannot match them and every named customer's is opened
 * in the API process for each search. On a throwaway Postgres, a workspace of
 * `--customers` customers with sealed names and emails (their churn risk and MRR
 * empty, so the list's own reads stay small). Timed, medians of `--reads`:
 * - a name search that matches one customer, and one that matches about a tenth;
 * - baseline: an email search (its keyed hash, one index lookup).
 * Ratio: the one-match name search to the baseline. Prints progress, then one JSON
 * line; records BENCHMARKS.md.
 */
import { parseArgs } from 'node:util';
import { listCustomers, type CustomerListQuery } from '../db/customer-list';
import { sealCustomerPii } from '../db/customer-pii';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { percentile, recordBenchmark } from './report';
import { benchDatabase } from './_database';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '10000' },
    reads: { type: 'string', default: '15' },
  },
});
const customers = Number(values.customers);
const reads = Number(values.reads);
for (const [name, v] of [['customers', customers], ['reads', reads]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}

const ws = 'ws_bench';
const progress = (msg: string) => console.error(`[bench customer-search] ${msg}`);
const WORDS = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Cyberdyne', 'Soylent', 'Tyrell'];

async function main(): Promise<void> {
  const bench = benchDatabase(2);
  try {
    progress('starting Postgres');
    const db = await bench.open();
    const ring = parseKeyring(generateKeySpec());
    await db('workspaces').insert({ id: ws, name: 'Benchmark' });
    progress(`sealing ${customers} customers' names and emails`);
    for (let start = 0; start < customers; start += 1_000) {
      const rows = [];
      for (let i = start; i < Math.min(customers, start + 1_000); i++) {
        // "Globex Labs 1234": a tenth share each word; the number makes one name unique.
        const id = `cus_${String(i).padStart(8, '0')}`;
        rows.push({ workspace_id: ws, stripe_state_at: new Date(), created: new Date(Date.UTC(2024, 0, 1) + i * 60_000), ...sealCustomerPii(ring, ws, { id, email: `billing${i}@example.com`, name: `${WORDS[i % WORDS.length]} Labs ${i}` }) });
      }
      await db('stripe_customers').insert(rows);
    }
    await db.raw('vacuum analyze stripe_customers');

    const time = async (q: Omit<CustomerListQuery, 'sort' | 'limit' | 'offset'>): Promise<{ ms: number; total: number }> => {
      const query: CustomerListQuery = { sort: 'newest', limit: 50, offset: 0, ...q };
      await listCustomers(db, ring, ws, query); // untimed: warms the caches
      const times: number[] = [];
      let total = 0;
      for (let r = 0; r < reads; r++) {
        const start = performance.now();
        total = (await listCustomers(db, ring, ws, query)).total;
        times.push(performance.now() - start);
      }
      return { ms: percentile(times, 50), total };
    };
    const unique = `Labs ${customers - 1}`;
    const one = await time({ nameContains: unique });
    progress(`name search, one match: ${one.ms.toFixed(1)} ms (${one.total} found)`);
    const tenth = await time({ nameContains: 'globex' });
    progress(`name search, a tenth: ${tenth.ms.toFixed(1)} ms (${tenth.total} found)`);
    const email = await time({ email: `billing${customers - 1}@example.com` });
    progress(`email search (baseline): ${email.ms.toFixed(1)} ms (${email.total} found)`);
    if (one.total !== 1 || email.total !== 1) throw new Error(`expected one customer by name and by email, found ${one.total} and ${email.total}`);

    recordBenchmark(
      'customer-search',
      `npm run bench -- customer-search --customers ${customers} --reads ${reads}`,
      {
        customers,
        name_one_ms: Number(one.ms.toFixed(2)),
        name_tenth_ms: Number(tenth.ms.toFixed(2)),
        name_tenth_found: tenth.total,
        baseline_ms: Number(email.ms.toFixed(2)),
        ratio: Number((one.ms / email.ms).toFixed(2)),
      },
      [
        `${customers} customers with sealed names and emails; a page of 50 by newest, median of ${reads} reads each`,
        'name_one: a name search matching one customer (every name opened and matched); name_tenth: one matching a tenth of them',
        'baseline: an email search (its keyed hash, one index lookup); ratio: name_one to it',
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
