/**
 * `npm run bench -- inbox-read [--backlogs 10000,30000,100000,300000] [--reads 15]`
 *
 * The relay's read of the inbox (pendingInboxEvents, one pass of 250 customers) as
 * the backlog grows: what a relay catching up after an outage pays for every pass.
 * On a throwaway Postgres, an inbox with a processed history (60,000 events) and the
 * statistics taken once it drained (autovacuum off for the table afterwards, so they
 * stay those of an empty queue), then pending events for 2,000 customers, in turns as
 * a live account sends them, grown to each backlog in `--backlogs`. At every backlog
 * 300 customers are busy (their signals under way) and 100 are held back by a
 * deferred first event. Prints the median read per backlog, then one JSON line;
 * records the figures in BENCHMARKS.md. The baseline is the read at the smallest
 * backlog; the ratio is the largest backlog's read to it (1: a pass costs the same
 * whatever waits behind it).
 */
import { parseArgs } from 'node:util';
import { pendingInboxEvents } from '../db/inbox';
import type { Knex } from '../db/knex';
import { percentile, recordBenchmark } from './report';
import { benchDatabase } from './_database';

const { values } = parseArgs({
  options: {
    backlogs: { type: 'string', default: '10000,30000,100000,300000' },
    reads: { type: 'string', default: '15' },
  },
});
const backlogs = values.backlogs.split(',').map(Number);
const reads = Number(values.reads);
if (backlogs.some((b) => !Number.isInteger(b) || b < 1) || backlogs.some((b, i) => i > 0 && b <= backlogs[i - 1]!)) {
  throw new Error('--backlogs must be increasing positive integers, comma-separated');
}
if (!Number.isInteger(reads) || reads < 1) throw new Error('--reads must be a positive integer');

const ws = 'ws_bench';
const CUSTOMERS = 2_000;
const HEADS = 250;
const BUSY = 300;
const HELD = 100;
const progress = (msg: string) => console.error(`[bench inbox-read] ${msg}`);

/** Adds events `from`..`to - 1` in turns over the customers, as `status`, each with a payload of a real event's size. */
async function addEvents(db: Knex, from: number, to: number, status: 'pending' | 'processed'): Promise<void> {
  const chunk = 50_000;
  for (let start = from; start < to; start += chunk) {
    await db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, status, processed_at)
       select ?, ? || n, 'customer.subscription.updated', 'cus_' || (n % ?), 'sub_' || (n % ?), now(), false, json_build_object('pad', repeat('x', 1200)), ?, case when ? = 'pending' then null else now() end
         from generate_series(?::int, ?::int - 1) as n`,
      [ws, `evt_${status}_`, CUSTOMERS, CUSTOMERS, status, status, start, Math.min(to, start + chunk)],
    );
  }
}

async function main(): Promise<void> {
  const bench = benchDatabase(2);
  try {
    progress('starting Postgres');
    const db = await bench.open();
    await db('workspaces').insert({ id: ws, name: 'Benchmark' });
    progress('a processed history of 60,000 events, analyzed once drained');
    await addEvents(db, 0, 60_000, 'processed');
    await db.raw('vacuum analyze webhook_inbox');
    await db.raw('alter table webhook_inbox set (autovacuum_enabled = false)');

    const busy = Array.from({ length: BUSY }, (_, i) => `${ws}/cus_${i}`);
    const figures: Record<string, number> = {};
    const byBacklog: string[] = [];
    let filled = 0;
    for (const backlog of backlogs) {
      await addEvents(db, 100_000 + filled, 100_000 + backlog, 'pending');
      filled = backlog;
      // The first pending event of customers BUSY..BUSY+HELD-1 waits for a retry.
      await db.raw(
        `update webhook_inbox set attempts = 1, next_attempt_at = now() + interval '1 hour'
          where seq in (select min(seq) from webhook_inbox where status = 'pending' and customer_id = any(?) group by customer_id)`,
        [Array.from({ length: HELD }, (_, i) => `cus_${BUSY + i}`)],
      );
      // Untimed: the first read after the update pays for its hint bits and the planner's caches.
      await pendingInboxEvents(db, HEADS, HEADS * 5, busy);
      const times: number[] = [];
      let events = 0;
      for (let r = 0; r < reads; r++) {
        const start = performance.now();
        events = (await pendingInboxEvents(db, HEADS, HEADS * 5, busy)).length;
        times.push(performance.now() - start);
      }
      const median = percentile(times, 50);
      figures[`read_ms_${backlog}`] = Number(median.toFixed(2));
      byBacklog.push(`${backlog}: ${median.toFixed(1)} ms (${events} events)`);
      progress(`backlog ${backlog}: median read ${median.toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, ${events} events a pass`);
    }
    const baseline = figures[`read_ms_${backlogs[0]}`]!;
    const largest = figures[`read_ms_${backlogs[backlogs.length - 1]}`]!;
    recordBenchmark(
      'inbox-read',
      `npm run bench -- inbox-read --backlogs ${backlogs.join(',')} --reads ${reads}`,
      { ...figures, baseline_ms: baseline, ratio: Number((largest / baseline).toFixed(2)) },
      [
        `a relay pass's read (pendingInboxEvents: ${HEADS} customers, up to ${HEADS * 5} events) at each backlog, median of ${reads}; ${CUSTOMERS} customers, ${BUSY} of them busy and ${HELD} held back by a deferred first event; statistics of a drained queue`,
        `baseline: the read at ${backlogs[0]} pending; ratio: the read at ${backlogs[backlogs.length - 1]} pending to it`,
        `by backlog: ${byBacklog.join('; ')}`,
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
