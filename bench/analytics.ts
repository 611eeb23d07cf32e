/**
 * `npm run bench -- analytics [--customers 10000] [--months 24] [--seed 1]`
 *
 * A generated account (sim/generator.ts) written into the Stripe mirror by the sync's
 * own upserts (db/mirror.ts) on a throwaway Postgres, then: the full recompute of the
 * workspace's analytics, one customer's incremental recompute (what the relay runs per
 * event; median of 50 customers), a batch recompute of every customer a further week
 * of events touched (recomputeCustomers, what the relay runs per delivery), and the
 * dashboard API's latency (p95 over every metric). Prints progress, then one JSON line; records the figures in BENCHMARKS.md.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type Stripe from 'stripe';
import express from 'express';
import { pino } from 'pino';
import { recomputeCustomer, recomputeCustomers, recomputeWorkspace } from '../activities/analytics';
import { authenticate } from '../api/auth';
import { errorHandler, notFound } from '../api/errors';
import { METRICS, metricsRouter } from '../api/metrics';
import { loadAggregates, upsertExchangeRates } from '../db/analytics';
import { createApiToken } from '../db/api-tokens';
import { upsertCustomers, upsertInvoices, upsertPrices, upsertProducts, upsertSubscriptions } from '../db/mirror';
import { isSubscribedEventType } from '../domain/event-types';
import { eventSubject, stripeEventEnvelope } from '../domain/stripe-events';
import { generateAccount } from '../sim/generator';
import { applyEventToMirror } from '../workers/mirror-events';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { percentile, recordBenchmark } from './report';
import { benchDatabase } from './_database';

/** A throwaway keyring: mirrored customer PII is sealed as in production. */
const benchKeyring = parseKeyring(generateKeySpec());

const log = (msg: string) => console.error(`[analytics] ${msg}`);
const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
};

async function inChunks<T>(items: T[], size: number, fn: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await fn(items.slice(i, i + size));
}

/** Runs the benchmark; `args` as after `npm run bench -- analytics`. */
export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      customers: { type: 'string', default: '10000' },
      months: { type: 'string', default: '24' },
      seed: { type: 'string', default: '1' },
    },
  });
  const customers = Number(values.customers);
  const months = Number(values.months);
  if (!Number.isInteger(customers) || customers < 1) throw new Error('--customers must be a positive integer');
  if (!Number.isInteger(months) || months < 1) throw new Error('--months must be a positive integer');
  log(`generating ${customers} customers over ${months} months (seed ${values.seed})`);
  const [account, generateMs] = await time(() => Promise.resolve(generateAccount({ seed: values.seed, customers, months })));
  log(`generated in ${Math.round(generateMs)} ms: ${account.subscriptions.size} subscriptions, ${account.invoices.size} invoices`);

  let server: Server | undefined;
  const bench = benchDatabase(10, async () => {
    if (server) await new Promise((r) => server!.close(r));
  });
  try {
    const db = await bench.open();
    const ws = 'ws_bench';
    await db('workspaces').insert({ id: ws, name: 'Benchmark' });
    // The simulator bills in usd, eur and gbp; one stored rate each converts them.
    await upsertExchangeRates(db, 'usd', [
      { currency: 'eur', on: '2000-01-01', rate: 1.08 },
      { currency: 'gbp', on: '2000-01-01', rate: 1.27 },
    ]);
    const stateAt = new Date(account.now * 1000);
    const [, loadMs] = await time(async () => {
      await upsertProducts(db, ws, account.products.rows, stateAt);
      await upsertPrices(db, ws, account.prices.rows, stateAt);
      await inChunks(account.customers.rows, 1000, (c) => upsertCustomers(db, ws, c, stateAt, benchKeyring));
      await inChunks(account.subscriptions.rows, 500, (s) => upsertSubscriptions(db, ws, s, stateAt));
      await inChunks(account.invoices.rows, 500, (i) => upsertInvoices(db, ws, i, stateAt));
    });
    log(`mirror written in ${Math.round(loadMs)} ms`);

    log('full recompute');
    const [full, fullMs] = await time(() => recomputeWorkspace(db, ws));
    log(`full recompute: ${Math.round(fullMs)} ms, ${full.customers} customers, ${full.movements} movements, MRR ${full.mrr}, ${full.warnings} warnings`);

    // Play the account on for a week and apply its webhook events the way the relay
    // does: the event's object into the mirror, then that customer's recompute.
    let events: Stripe.Event[] = [];
    account.onEvent = (e) => events.push(e);
    const aWeekOfEvents = () => {
      events = [];
      account.advance(7 * 86_400);
      return events
        .filter((e) => isSubscribedEventType(e.type))
        .map((e) => ({ event: e, customerId: eventSubject(stripeEventEnvelope.parse(JSON.parse(JSON.stringify(e)))).customerId }))
        .filter((x): x is { event: Stripe.Event; customerId: string } => x.customerId !== null);
    };
    const applied = aWeekOfEvents().slice(0, 200);
    const incremental: number[] = [];
    for (const { event, customerId } of applied) {
      if (!isSubscribedEventType(event.type)) continue;
      await applyEventToMirror(db, ws, event.type, JSON.parse(JSON.stringify(event)));
      incremental.push((await time(() => recomputeCustomer(db, ws, customerId)))[1]);
    }
    const incrementalMs = percentile(incremental, 50);
    log(`incremental recompute: median ${incrementalMs.toFixed(2)} ms, p95 ${percentile(incremental, 95).toFixed(2)} ms over ${incremental.length} events of a week`);

    // A further week's events into the mirror, then every customer they touched in one batch.
    const pending = aWeekOfEvents();
    for (const { event } of pending) {
      if (isSubscribedEventType(event.type)) await applyEventToMirror(db, ws, event.type, JSON.parse(JSON.stringify(event)));
    }
    const batchCustomers = [...new Set(pending.map((p) => p.customerId))];
    const [, batchMs] = await time(() => recomputeCustomers(db, ws, batchCustomers));
    log(`batch recompute: ${Math.round(batchMs)} ms for ${batchCustomers.length} customers (${(batchMs / batchCustomers.length).toFixed(2)} ms each)`);
    const afterEvents = await loadAggregates(db, ws);
    await recomputeWorkspace(db, ws);
    const matches = isDeepStrictEqual(afterEvents, await loadAggregates(db, ws));
    log(`incremental and batch aggregates ${matches ? 'equal' : 'DIFFER FROM'} a full recompute`);
    if (!matches) throw new Error('incremental and batch aggregates differ from a full recompute');

    const { token } = await createApiToken(db, { workspaceId: ws, role: 'finance', name: 'bench', createdBy: 'bench' });
    const app = express();
    app.use(authenticate({ db }));
    app.use(metricsRouter({ db, keyring: benchKeyring }));
    app.use(notFound);
    app.use(errorHandler(pino({ level: 'silent' })));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const latencies: number[] = [];
    for (let round = 0; round < 20; round++) {
      for (const metric of METRICS) {
        const [res, ms] = await time(() => fetch(`${url}/workspaces/${ws}/metrics/${metric}?from=2024-01&to=2026-12`, { headers: { authorization: `Bearer ${token}` } }));
        if (res.status !== 200) throw new Error(`${metric}: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        if (round > 0) latencies.push(ms);
      }
    }
    const apiP95 = percentile(latencies, 95);
    log(`API: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${apiP95.toFixed(1)} ms over ${latencies.length} requests`);

    recordBenchmark(
      'analytics',
      `npm run bench -- analytics --customers ${customers} --months ${months} --seed ${values.seed}`,
      {
        customers,
        months,
        movements: full.movements,
        full_ms: Math.round(fullMs),
        incremental_ms: Number(incrementalMs.toFixed(2)),
        incremental_p95_ms: Number(percentile(incremental, 95).toFixed(2)),
        events: incremental.length,
        ratio: Number((incrementalMs / fullMs).toFixed(5)),
        batch_customers: batchCustomers.length,
        batch_ms: Math.round(batchMs),
        batch_ms_per_customer: Number((batchMs / batchCustomers.length).toFixed(2)),
        api_p95_ms: Number(apiP95.toFixed(1)),
        api_p50_ms: Number(percentile(latencies, 50).toFixed(1)),
        mirror_load_ms: Math.round(loadMs),
      },
      [
        'full: recomputeWorkspace (read the mirror, compute every customer, rewrite movements and aggregates in one transaction)',
        'incremental: median recomputeCustomer after applying each webhook event of a further simulated week to the mirror (what the relay runs per event)',
        'batch: recomputeCustomers over every customer touched by the events of one more simulated week, applied to the mirror first (what the relay runs per delivery, one transaction); afterwards the aggregates equal a full recompute',
        `API: every metric (${METRICS.length}) 19 times over three years of months, finance token, sequential`,
        'targets (issue 6): ratio <= 0.01, api_p95_ms <= 100',
      ],
    );
  } finally {
    await bench.stop();
  }
}

// Run directly (bench/run.ts spawning this file) or imported by a dispatcher that calls main().
if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
