/**
 * `npm run bench -- webhooks [--rate 500] [--seconds 30] [--trials 3] [--relay off]`
 *
 * Posts correctly signed Stripe webhooks at a steady rate to the real ingress (the
 * API and worker processes, Postgres inbox, relay into the mirror and the analytics
 * and to the plays' workflows on a Temporal dev server), and the same load to a bare
 * Express endpoint that only answers 200, in the same run: in turns, several trials.
 * Load comes from a worker thread with open-loop pacing (requests are sent on
 * schedule whether or not earlier ones were answered), so slow answers show up as
 * latency.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker as Thread } from 'node:worker_threads';
import { Client, Connection } from '@temporalio/client';
import Stripe from 'stripe';
import type { Knex } from 'knex';
import { inboxCounts } from '../db/inbox';
import { createDb } from '../db/knex';
import { workerPlaysNice } from '../platform/config';
import { migrationConfig } from '../db/migrations';
import { insertWorkspace } from '../db/workspaces';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { freePort } from '../tests/setup/ports';
import { startThrowawayPostgres } from '../tests/setup/postgres';
import { startTemporalDevServerOnFreePort, type TemporalDevServer } from '../tests/setup/temporal-server';
import { startSimulator, type Simulator } from '../sim/server';
import { groupBy } from '../domain/group-by';
import { percentile, recordBenchmark } from './report';
import { cpuShares, cpuSnapshot, parentPid, type PartOf } from './_cpu';
import { startBareEndpoint } from './_bare-endpoint';
import { startDiskProbe, type DiskFlushes, type DiskProbe } from './_disk-probe';
import { stopOnInterrupt } from './_interrupt';

/** The disk probe's flushes a second unless --disk-probe says otherwise: few beside the ingress's ~500 commits. */
const DISK_PROBE_RATE = 50;

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '30' },
    // --ramp S: the same load runs S seconds before the timed seconds, untimed, so the
    // figures describe the steady state rather than the relay waking from idle.
    ramp: { type: 'string', default: '10' },
    customers: { type: 'string', default: '2000' },
    // --trials N: baseline and real ingress measured N times in turn; figures are medians,
    // since on a shared machine one run's p99 can be twice the next one's.
    trials: { type: 'string', default: '3' },
    // --relay off: measure ingress alone (no worker competing for the two cores); the
    // inbox is then drained by a worker started after the load, and no lag is reported.
    relay: { type: 'string', default: 'on' },
    // --cold: no warm-up, so the timed load also starts every customer's workflow.
    cold: { type: 'boolean', default: false },
    // --profile DIR: the API and the worker write V8 CPU profiles there when they exit.
    profile: { type: 'string' },
    // --disk-probe N: N timed 8 kB write + fdatasync pairs a second of a thread of its own
    // during each load (bench/_disk-probe.ts), the floor under a durable ack; 0: none.
    'disk-probe': { type: 'string', default: String(DISK_PROBE_RATE) },
    // --bare-beside N: every N-th request of the real load also goes to the bare endpoint
    // at the same moment, so its answers show a do-nothing endpoint on the machine as the
    // full stack leaves it (bare_beside_p99_ms). Off unless asked for: at 10 (50 a second)
    // it costs ~0.05 of a core, which the plays' side, short of cores under this load,
    // pays for in relay lag (BENCHMARKS.md).
    'bare-beside': { type: 'string', default: '0' },
  },
});
const relayDuringLoad = values.relay !== 'off';
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rampSeconds = Number(values.ramp);
const customers = Number(values.customers);
const trials = Math.max(1, Number(values.trials));
const diskProbeRate = Number(values['disk-probe']);
if (!Number.isFinite(diskProbeRate) || diskProbeRate < 0) throw new Error(`--disk-probe must be a number of flushes a second, 0 or more (got ${values['disk-probe']})`);
const bareBeside = Number(values['bare-beside']);
if (!Number.isInteger(bareBeside) || bareBeside < 0) throw new Error(`--bare-beside must be a whole number of requests, 0 for none (got ${values['bare-beside']})`);
if (bareBeside > rate * seconds) throw new Error(`--bare-beside ${bareBeside} would time no request: the timed load has ${rate * seconds}`);
const secret = 'whsec_bench';
/** The CPU priority the worker gives its plays' threads (WORKER_PLAYS_NICE, as the worker reads it from this environment). */
const PLAYS_NICE = workerPlaysNice();
/**
 * The CPU priority npm start gives the Temporal dev server (scripts/start.sh): below the
 * API's, above the plays', since the relay's signals wait on it.
 */
const TEMPORAL_NICE = 5;
const workspaceId = 'ws_bench';

const progress = (msg: string) => console.error(`[bench webhooks] ${msg}`);

/**
 * Runs the open-loop load in a thread of its own; returns the latencies of the requests
 * after the first `untimed` (those only bring the receiver up to speed) and the
 * failures of all of them. With `beside`, every `every`-th request also goes, at the
 * same moment, to `beside.url` (the bare endpoint): its latencies (`besideLatencies`,
 * after the untimed ones too) are a do-nothing endpoint's on the machine as this load
 * leaves it.
 */
function load(
  url: string,
  requests: { body: string; signature: string }[],
  untimed = 0,
  beside?: { url: string; every: number },
): Promise<{ latencies: number[]; besideLatencies: number[]; errors: number; statuses: Record<string, number> }> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const http = require('node:http');
    const { url, requests, rate, untimed, beside } = workerData;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const besideAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const target = new URL(url);
    const besideTarget = beside ? new URL(beside.url) : undefined;
    const latencies = []; const besideLatencies = []; let errors = 0; const statuses = {}; let done = 0;
    const expected = requests.length + (beside ? Math.ceil(requests.length / beside.every) : 0);
    const start = performance.now();
    // Each request settles once: answered, or failed (refused, or cut off mid-answer,
    // which can raise errors on both the request and the response).
    const post = (to, via, r, onAnswer, onError) => {
      const t0 = performance.now();
      let settled = false;
      const settle = (f) => { if (settled) return; settled = true; f(); finish(); };
      const req = http.request({ host: to.hostname, port: to.port, path: to.pathname, method: 'POST', agent: via,
        headers: { 'content-type': 'application/json', 'stripe-signature': r.signature, 'content-length': Buffer.byteLength(r.body) } }, (res) => {
        res.resume();
        res.on('end', () => settle(() => onAnswer(res.statusCode, performance.now() - t0)));
        res.on('error', (err) => settle(() => onError(err.code || err.message)));
      });
      // Counted by their code (ECONNRESET...), so a failed run says what failed.
      req.on('error', (err) => settle(() => onError(err.code || err.message)));
      req.end(r.body);
    };
    const send = (r, i) => {
      post(target, agent, r, (status, ms) => {
        if (i >= untimed) latencies.push(ms);
        statuses[status] = (statuses[status] || 0) + 1;
        if (status !== 200) errors++;
      }, (why) => { errors++; statuses['error ' + why] = (statuses['error ' + why] || 0) + 1; });
      // The bare endpoint's answers are not the ingress's: a failure there counts apart.
      if (besideTarget && i % beside.every === 0) {
        post(besideTarget, besideAgent, r, (status, ms) => {
          if (status !== 200) statuses['beside ' + status] = (statuses['beside ' + status] || 0) + 1;
          else if (i >= untimed) besideLatencies.push(ms);
        }, (why) => { statuses['beside error ' + why] = (statuses['beside error ' + why] || 0) + 1; });
      }
    };
    const finish = () => { if (++done === expected) { agent.destroy(); besideAgent.destroy(); parentPort.postMessage({ latencies, besideLatencies, errors, statuses }); } };
    let next = 0;
    const tick = () => {
      const due = Math.min(requests.length, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (next < due) { send(requests[next], next); next++; }
      if (next < requests.length) setTimeout(tick, 1);
    };
    tick();
  `;
  return new Promise((resolve, reject) => {
    const thread = new Thread(code, { eval: true, workerData: { url, requests, rate, untimed, beside } });
    thread.once('message', resolve);
    thread.once('error', reject);
  });
}

/**
 * A subscription business's webhook traffic: each customer's events rotate through
 * twenty slots, so any stretch of the load has the same mix: 8 subscription updates
 * (quantity changes, renewals), 8 first-try payments, 1 failed payment, 1 payment of
 * the invoice that failed the round before (a recovery), 1 refund, 1 subscription end.
 * The failed payment and the recovery reach the plays (domain/play-routing.ts). The
 * subscription's end does not: it comes two rounds after the recovery paid the invoice
 * that failed, so every invoice of the subscription is paid and no dunning is left to stop.
 * The rest update the mirror and the analytics only.
 */
function benchEvent(n: number, now: number, idPrefix: string): Record<string, unknown> {
  const c = n % customers;
  const round = Math.floor(n / customers);
  const slot = slotOf(n);
  const customer = `cus_bench${c}`;
  const sub = `sub_bench${c}`;
  const quantity = 1 + (n % 7);
  const amount = 2900 * quantity;
  const envelope = (type: string, object: Record<string, unknown>) => ({
    id: `${idPrefix}${n}`,
    object: 'event',
    api_version: '2024-06-20',
    created: now,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
  const invoice = (id: string, paid: boolean, attempts: number) => ({
    id,
    object: 'invoice',
    customer,
    currency: 'usd',
    status: paid ? 'paid' : 'open',
    amount_due: amount,
    amount_paid: paid ? amount : 0,
    amount_remaining: paid ? 0 : amount,
    subtotal: amount,
    total: amount,
    attempt_count: attempts,
    attempted: true,
    billing_reason: 'subscription_cycle',
    created: now - 3600,
    period_start: now - 3600,
    period_end: now - 3600 + 30 * 86400,
    next_payment_attempt: paid ? null : now + 3 * 86400,
    livemode: false,
    metadata: {},
    parent: { type: 'subscription_details', subscription_details: { subscription: sub, metadata: {} } },
    status_transitions: { paid_at: paid ? now : null, finalized_at: now - 3600 },
    lines: {
      object: 'list',
      has_more: false,
      data: [
        {
          id: `il_${id}`,
          object: 'line_item',
          amount,
          currency: 'usd',
          quantity,
          period: { start: now - 3600, end: now - 3600 + 30 * 86400 },
          parent: { type: 'subscription_item_details', subscription_item_details: { subscription: sub, subscription_item: `si_bench${c}`, proration: false } },
          pricing: { type: 'price_details', price_details: { price: 'price_bench', product: 'prod_bench' } },
          discount_amounts: [],
          metadata: {},
        },
      ],
    },
  });
  if (slot < 8 || slot === 19) {
    return envelope(slot === 19 ? 'customer.subscription.deleted' : 'customer.subscription.updated', {
      id: sub,
      object: 'subscription',
      customer,
      status: slot === 19 ? 'canceled' : 'active',
      currency: 'usd',
      cancel_at_period_end: false,
      created: now - 86400,
      start_date: now - 86400,
      livemode: false,
      metadata: {},
      items: { object: 'list', has_more: false, data: [{ id: `si_bench${c}`, object: 'subscription_item', quantity, price: { id: 'price_bench', object: 'price' }, created: now - 86400, metadata: {} }] },
    });
  }
  if (slot < 16) return envelope('invoice.payment_succeeded', invoice(`in_bench${n}`, true, 1));
  if (slot === 16) return envelope('invoice.payment_failed', invoice(`in_bench_failed_${c}_${round}`, false, 1));
  // The invoice that failed in this customer's previous round (slot 16 then).
  if (slot === 17) return envelope('invoice.payment_succeeded', invoice(`in_bench_failed_${c}_${round - 1}`, true, 2));
  const charge = `ch_bench${n}`;
  return envelope('charge.refunded', {
    id: charge,
    object: 'charge',
    customer,
    amount,
    amount_refunded: 900,
    currency: 'usd',
    status: 'succeeded',
    paid: true,
    refunded: false,
    created: now - 7200,
    livemode: false,
    metadata: {},
    refunds: { object: 'list', has_more: false, data: [{ id: `re_bench${n}`, object: 'refund', amount: 900, charge, currency: 'usd', status: 'succeeded', reason: 'requested_by_customer', created: now }] },
  });
}

/** Where event `n` falls in its customer's rotation of twenty (see benchEvent). */
const slotOf = (n: number) => ((n % customers) + Math.floor(n / customers)) % 20;
/** Whether event `n` reaches a play: a failed payment, or a recovery (after round 0). */
const reachesPlays = (n: number) => slotOf(n) === 16 || (slotOf(n) === 17 && n >= customers);

/** Events `offset`.. as signed requests; the first is sent `startIndex` requests into its load. */
function signedRequests(count: number, offset: number, idPrefix = 'evt_bench', startIndex = 0): { body: string; signature: string }[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, i) => {
    // Stripe stamps an event when it happens, shortly before sending it: here, at the
    // second the load sends it (relative to the first), so one object's events differ in time.
    const body = JSON.stringify(benchEvent(offset + i, now + Math.floor((startIndex + i) / rate), idPrefix));
    return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret }) };
  });
}


/** The disk probe's flushes during the bare endpoint's load and the real ingress's (either missing if the probe failed there). */
interface TrialFlushes {
  bare?: DiskFlushes | undefined;
  real?: DiskFlushes | undefined;
}

interface TrialResult {
  stored: number;
  errors: number;
  forPlays: number;
  p50: number;
  p99: number;
  baselineP99: number;
  /** The bare endpoint's p99 for the requests sent to it beside the real load (undefined: --bare-beside 0). */
  besideP99?: number | undefined;
  lagP50: number;
  lagP99: number;
  lagP99Plays: number;
  lagP99Others: number;
  rampLagP99: number;
  drainPerSecond: number;
  /** Where the relay's time went over the trial's ramp, load and drain (describeSteps). */
  relaySteps?: string;
  /** The API's own view of the trial's load (describeApi). */
  apiSide?: string;
  /** Cores each part of the stack used while the real ingress was loaded (cpuShares). */
  cpu?: string;
  /** The WAL written from the start of the real load until the inbox drained, per event (describeWal). */
  walKbPerEvent?: number;
  wal?: string;
  /** The disk probe's flushes during the bare endpoint's load and during the real ingress's. */
  disk?: TrialFlushes;
  /** The acks' p99 by 5 s of the timed load, and the checkpoints begun meanwhile (acksByWindow). */
  ackWindows?: string;
}

type LoadResult = Awaited<ReturnType<typeof load>>;

/** The WAL Postgres has written so far (pg_stat_wal): bytes, full-page images, records. */
interface WalWritten {
  bytes: number;
  fpi: number;
  records: number;
}

async function walWritten(db: Knex): Promise<WalWritten> {
  const { rows } = await db.raw<{ rows: WalWritten[] }>(`select wal_bytes::float8 as bytes, wal_fpi::float8 as fpi, wal_records::float8 as records from pg_stat_wal`);
  return rows[0]!;
}

/** Checkpoints Postgres has begun (by time or by WAL size); its last flush of each data file can hold up WAL flushes, and so acks. */
async function checkpointsBegun(db: Knex): Promise<number> {
  // Postgres 17 moved the counts from pg_stat_bgwriter to pg_stat_checkpointer.
  const { rows: version } = await db.raw<{ rows: { num: number }[] }>(`select current_setting('server_version_num')::int as num`);
  const sql =
    version[0]!.num >= 170000
      ? `select (num_timed + num_requested)::int as n from pg_stat_checkpointer`
      : `select (checkpoints_timed + checkpoints_req)::int as n from pg_stat_bgwriter`;
  const { rows } = await db.raw<{ rows: { n: number }[] }>(sql);
  return rows[0]!.n;
}

/**
 * The timed acks' p99 by 5 s of the load (in the order they were answered, which at a
 * steady rate is near enough the order sent): a tail made by a few stalls shows as one
 * or two windows far above the rest, one made by busy cores as all of them up.
 */
function acksByWindow(latencies: readonly number[], rate: number): string {
  const per = Math.max(1, Math.round(rate * 5));
  const windows: string[] = [];
  for (let i = 0; i < latencies.length; i += per) windows.push(percentile(latencies.slice(i, i + per), 99).toFixed(1));
  return windows.join(' / ');
}

/** The WAL written per event between two readings, as one line (what each ack's flush shares the disk with). */
function describeWal(before: WalWritten, after: WalWritten, events: number): { kbPerEvent: number; line: string } {
  const per = (v: number) => v / Math.max(1, events);
  const kbPerEvent = per(after.bytes - before.bytes) / 1024;
  return { kbPerEvent, line: `${kbPerEvent.toFixed(1)} kB in ${per(after.records - before.records).toFixed(1)} records an event, ${per(after.fpi - before.fpi).toFixed(2)} full-page images an event` };
}

/** One trial's figures, from its answers and from its events' rows in the inbox. */
async function trialResult(db: Knex, t: number, run: { baseline: LoadResult; real: LoadResult; ramp: number; drainSeconds: number }): Promise<TrialResult> {
  const prefix = `evt_t${t}_bench`;
  const lagRows = (
    await db.raw<{ rows: { event_id: string; received_ms: number; lag_ms: number }[] }>(
      `select event_id, extract(epoch from received_at) * 1000 as received_ms, extract(epoch from processed_at - received_at) * 1000 as lag_ms from webhook_inbox where event_id like ?`,
      [`${prefix}%`],
    )
  ).rows.map((r) => ({ at: Number(r.received_ms), lag: Number(r.lag_ms), forPlays: reachesPlays(Number(r.event_id.slice(prefix.length))) }));
  // Lag over the run, by when events arrived: a relay that falls behind shows as a rising line.
  const first = lagRows.reduce((m, r) => Math.min(m, r.at), Infinity);
  const windows = relayDuringLoad ? [...groupBy(lagRows, (r) => Math.floor((r.at - first) / 5000))].sort(([a], [b]) => a - b) : [];
  for (const [window, rows] of windows) {
    const l = rows.map((r) => r.lag);
    progress(`trial ${t + 1}: arrived ${window * 5}-${window * 5 + 5} s: relay lag p50 ${percentile(l, 50).toFixed(0)} ms, p99 ${percentile(l, 99).toFixed(0)} ms`);
  }
  const rampLags = (
    await db.raw<{ rows: { lag_ms: number }[] }>(`select extract(epoch from processed_at - received_at) * 1000 as lag_ms from webhook_inbox where event_id like ?`, [`evt_t${t}_ramp%`])
  ).rows.map((r) => Number(r.lag_ms));
  const lags = lagRows.map((r) => r.lag);
  return {
    stored: lagRows.length,
    errors: run.real.errors,
    forPlays: lagRows.filter((r) => r.forPlays).length,
    p50: percentile(run.real.latencies, 50),
    p99: percentile(run.real.latencies, 99),
    baselineP99: percentile(run.baseline.latencies, 99),
    besideP99: run.real.besideLatencies.length > 0 ? percentile(run.real.besideLatencies, 99) : undefined,
    lagP50: percentile(lags, 50),
    lagP99: percentile(lags, 99),
    lagP99Plays: percentile(lagRows.filter((r) => r.forPlays).map((r) => r.lag), 99),
    lagP99Others: percentile(lagRows.filter((r) => !r.forPlays).map((r) => r.lag), 99),
    rampLagP99: percentile(rampLags, 99),
    drainPerSecond: (lagRows.length + run.ramp) / Math.max(0.001, run.drainSeconds),
  };
}

async function main(): Promise<void> {
  let postgres: Awaited<ReturnType<typeof startThrowawayPostgres>> | undefined;
  let temporal: TemporalDevServer | undefined;
  let sim: Simulator | undefined;
  // Set up before anything starts, so an interrupt during the start-up stops what is up by then.
  const { stop, stopping } = stopOnInterrupt(async () => {
    await Promise.all([...spawned].map(stopProcess));
    await sim?.stop();
    await temporal?.stop();
    await postgres?.stop();
  });
  interrupted = stopping;
  try {
    progress(`starting Postgres, the Temporal dev server and the Stripe simulator`);
    // With fsync, as npm start runs it: an ack promises the event is on disk.
    postgres = await startThrowawayPostgres('wysera-bench-', { durable: true });
    // As npm start runs it: it yields to the ingress, and the relay's signals to it do not wait behind the plays.
    temporal = await startTemporalDevServerOnFreePort(undefined, { nice: TEMPORAL_NICE });
    // The workspace is connected to a Stripe peer, as a real one is: the plays the events
    // start read Stripe (the bench's invoices are unknown there, so each dunning ends at once).
    sim = await startSimulator({ seed: 'bench-webhooks', customers: 5, months: 1, port: 0 });
    await measure(postgres.urlOf('wysera'), temporal, sim, postgres.dir);
  } finally {
    await stop();
  }
}

/** Per step, a histogram's sum (seconds; events for "pass") and count (calls; passes). */
type RelaySteps = Map<string, { sum: number; count: number }>;

/** The interval of prom-client's event-loop timer (its default, which platform/metrics.ts keeps). */
const EVENT_LOOP_MONITOR_MS = 10;

/** Sums of the Prometheus samples in `text` whose name and labels match `pattern` (its first group names the sample). */
function samples(text: string, pattern: RegExp): Map<string, number> {
  const found = new Map<string, number>();
  for (const m of text.matchAll(pattern)) found.set(m[1]!, (found.get(m[1]!) ?? 0) + Number(m[2]));
  return found;
}

/** A process's /metrics text; empty when it does not run (with --relay off the worker starts only after the load). */
async function scrape(metricsPort: number | undefined): Promise<string> {
  return metricsPort === undefined ? '' : (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
}

/**
 * The worker's relay totals from its /metrics: seconds and calls per step (read,
 * mirror, analytics, signal), as step "pass" events and passes, as "pool:<name>" the
 * seconds spent waiting for each pool's connections (relay, activities) and how many were taken, and
 * as "gc" the seconds and pauses of garbage collection on the worker's main thread.
 */
function relaySteps(text: string): RelaySteps {
  const steps: RelaySteps = new Map();
  const entry = (step: string) => steps.get(step) ?? steps.set(step, { sum: 0, count: 0 }).get(step)!;
  for (const m of text.matchAll(/^wysera_relay_step_seconds_(sum|count)\{step="(\w+)"\} (\S+)$/gm)) entry(m[2]!)[m[1] as 'sum' | 'count'] = Number(m[3]);
  for (const m of text.matchAll(/^wysera_relay_pass_events_(sum|count) (\S+)$/gm)) entry('pass')[m[1] as 'sum' | 'count'] = Number(m[2]);
  for (const m of text.matchAll(/^wysera_db_pool_wait_seconds_(sum|count)\{pool="(\w+)"\} (\S+)$/gm)) entry(`pool:${m[2]}`)[m[1] as 'sum' | 'count'] = Number(m[3]);
  for (const [stat, value] of samples(text, /^nodejs_gc_duration_seconds_(sum|count)\{kind="\w+"\} (\S+)$/gm)) entry('gc')[stat as 'sum' | 'count'] = value;
  return steps;
}

/**
 * What the relay's steps took on average between two scrapes, as one line: ms per
 * call, events per pass, the worker's pool waits (its two pools apart), how late the relay thread's event
 * loop ran (every await of the relay's waits that long once its answer is in), and the
 * worker's main thread's GC pauses and heap.
 */
function describeSteps(before: RelaySteps, after: RelaySteps, afterText: string): string {
  const delta = (step: string) => {
    const a = after.get(step) ?? { sum: 0, count: 0 };
    const b = before.get(step) ?? { sum: 0, count: 0 };
    return { sum: a.sum - b.sum, count: a.count - b.count };
  };
  const perCall = (step: string) => {
    const d = delta(step);
    return d.count > 0 ? `${step} ${Math.round((d.sum * 1000) / d.count)}` : `${step} -`;
  };
  const passes = delta('pass');
  const perPass = passes.count > 0 ? Math.round(passes.sum / passes.count) : 0;
  const waits = (name: string) => {
    const d = delta(`pool:${name}`);
    return `${name} pool ${d.sum.toFixed(1)} s over ${d.count} acquires`;
  };
  // The relay thread's own figure (net of its timer), read at this scrape since the one before.
  const loop = samples(afterText, /^wysera_relay_event_loop_delay_seconds\{stat="(mean|p99)"\} (\S+)$/gm);
  const late = (stat: string) => Math.round((loop.get(stat) ?? 0) * 1000);
  const gc = delta('gc');
  const heap = samples(afterText, /^nodejs_heap_size_(used)_bytes (\S+)$/gm).get('used') ?? 0;
  return `${['read', 'mirror', 'analytics', 'signal'].map(perCall).join(', ')} ms; ${passes.count} passes of ${perPass} events; the worker waited for pooled connections: ${waits('relay')}, ${waits('activities')}; the relay thread's event loop ran ${late('mean')} ms late on average, ${late('p99')} ms at p99; GC paused the worker's main thread ${Math.round(gc.sum * 1000)} ms in ${gc.count} pauses, heap ${Math.round(heap / 1e6)} MB after`;
}

/**
 * The API's own view of a load, from its /metrics before and after: how many acks
 * took over 10 ms in the handler (verification and the insert), the time its event
 * loop stood still for garbage collection, and its longest stall. Tells
 * whether a slow answer was slow inside the API or on the way to it.
 */
function describeApi(before: string, after: string): string {
  const delta = (pattern: RegExp, key: string) => (samples(after, pattern).get(key) ?? 0) - (samples(before, pattern).get(key) ?? 0);
  const acks = /^wysera_webhook_ack_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm;
  const gc = /^nodejs_gc_duration_seconds_(sum|count)\{kind="\w+"\} (\S+)$/gm;
  const total = delta(acks, '+Inf');
  // prom-client times a 10 ms timer and resets its figures at each scrape: the longest
  // tick since the scrape before the load, less the 10 ms it should have taken.
  const loopMax = samples(after, /^nodejs_eventloop_lag_(max)_seconds (\S+)$/gm).get('max') ?? 0;
  const stall = Math.max(0, Math.round(loopMax * 1000 - EVENT_LOOP_MONITOR_MS));
  const pool = /^wysera_db_pool_wait_seconds_(sum|count)\{pool="api"\} (\S+)$/gm;
  const poolWait = `${Math.round(delta(pool, 'sum') * 1000)} ms waited over ${delta(pool, 'count')} connection acquires`;
  return `${total - delta(acks, '0.01')} of ${total} acks over 10 ms in the handler; GC paused it ${Math.round(delta(gc, 'sum') * 1000)} ms in ${delta(gc, 'count')} pauses; its event loop stalled at most ${stall} ms; ${poolWait}`;
}

/** Every Wysera process the run started: stopped at the end, whether the run got there or failed. */
const spawned = new Set<ChildProcess>();

/** Whether the run is being stopped (an interrupt): then it starts no more processes. */
let interrupted = () => false;

/** Runs a Wysera process (api or worker) as an operator would, with its own event loop. */
function spawnProcess(entry: string, env: Record<string, string>): ChildProcess {
  if (interrupted()) throw new Error(`interrupted: not starting ${entry}`);
  const profiling = values.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(values.profile)] : [];
  const cmd = [process.execPath, ...profiling, '--import', 'tsx', entry];
  // As npm start runs it: the worker at the API's priority; it lowers its plays' threads
  // itself (WORKER_PLAYS_NICE: PLAYS_NICE) and keeps its relay thread where it is.
  const child = spawn(cmd[0]!, cmd.slice(1), {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  spawned.add(child);
  return child;
}

/**
 * Waits until no dunning workflow runs. The relay is done with an event once its play
 * has the signal; the play's own work (a dunning reads the invoice from Stripe, within
 * the workspace's Stripe rate limit) can go on for a while after, and a baseline or a
 * trial measured meanwhile would pay for the one before.
 */
async function playsSettled(temporalAddress: string, label: string, running: () => void): Promise<void> {
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const client = new Client({ connection });
    for (;;) {
      running();
      const { count } = await client.workflow.count(`WorkflowType = 'dunningWorkflow' AND ExecutionStatus = 'Running'`);
      if (count === 0) return;
      progress(`${label}: ${count} dunnings still running`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    await connection.close();
  }
}

/** Whether the process has ended (on its own, or killed by a signal). */
const ended = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/** Fails the run when a process it waits on has exited: the wait would never end. */
function assertRunning(child: ChildProcess | undefined, name: string): void {
  if (child && ended(child)) {
    throw new Error(`the ${name} process exited (${child.exitCode ?? child.signalCode}) during the run; its output is above`);
  }
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || ended(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The parts of the stack the benchmark runs, for cpuShares: the Wysera processes by
 * their entry, the Temporal dev server by its port, Postgres's server and its
 * children, and this process (the threads of the load generator, the bare endpoint and
 * the disk probe, and the Stripe simulator on its main thread).
 */
async function stackParts(db: Knex, temporalPort: number): Promise<PartOf> {
  const { rows } = await db.raw<{ rows: { pid: number }[] }>('select pg_backend_pid() as pid');
  const postmaster = parentPid(rows[0]!.pid);
  return ({ pid, ppid, cmdline }) => {
    if (pid === process.pid) return 'bench (load, simulator, disk probe)';
    if (pid === postmaster || ppid === postmaster) return 'postgres';
    if (cmdline.endsWith('api/main.ts')) return 'api';
    if (cmdline.endsWith('workers/main.ts')) return 'worker';
    if (cmdline.includes('start-dev') && cmdline.includes(`--port ${temporalPort} `)) return 'temporal';
    return null;
  };
}

/**
 * Runs a load with the disk probe alongside (unless --disk-probe 0), and gives its
 * flushes after the load's untimed ramp with the load's result; a probe that fails is
 * reported and leaves the trial without its figures.
 */
async function probingDisk(dir: string, run: () => Promise<LoadResult>): Promise<LoadResult & { disk?: DiskFlushes }> {
  if (diskProbeRate === 0) return run();
  let probe: DiskProbe;
  try {
    probe = await startDiskProbe(dir, diskProbeRate);
  } catch (err) {
    progress(`the disk probe did not start (${String(err)}); this load runs without it`);
    return run();
  }
  const timedFrom = Date.now() + rampSeconds * 1000;
  const stopProbe = () =>
    probe.stop(timedFrom).catch((err: unknown) => {
      progress(`the disk probe failed: ${String(err)}`);
      return undefined;
    });
  let result: LoadResult;
  try {
    result = await run();
  } catch (err) {
    await stopProbe();
    throw err;
  }
  const disk = await stopProbe();
  return disk ? { ...result, disk } : result;
}

/** A trial's disk probe figures as one line. */
function describeFlushes({ bare, real }: TrialFlushes): string {
  const one = (f: DiskFlushes | undefined) => (f ? `p50 ${f.p50Ms.toFixed(2)}, p99 ${f.p99Ms.toFixed(2)}, max ${f.maxMs.toFixed(1)} ms of ${f.count}` : 'n/a');
  return `real load ${one(real)}; bare endpoint's load ${one(bare)}`;
}

async function measure(databaseUrl: string, temporal: TemporalDevServer, sim: Simulator, postgresDir: string): Promise<void> {
  const temporalAddress = temporal.address;
  const db = createDb(databaseUrl, 5);
  await db.migrate.latest(migrationConfig);
  const parts = await stackParts(db, temporal.port);
  const keySpec = generateKeySpec();
  await insertWorkspace(db, parseKeyring(keySpec), { id: workspaceId, name: 'Bench', webhookSecret: secret, stripeKey: sim.accounts[0]!.restrictedKey });

  const apiPort = await freePort();
  const env = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, WYSERA_ENCRYPTION_KEYS: keySpec, TEMPORAL_TASK_QUEUE: 'bench', STRIPE_API_BASE: sim.url };
  // A known port, so each trial can read where the relay's time went (relaySteps).
  const workerMetricsPort = await freePort();
  const startWorker = () => spawnProcess('workers/main.ts', { ...env, WORKER_METRICS_PORT: String(workerMetricsPort), RELAY_POLL_MS: '100' });
  let worker = relayDuringLoad ? startWorker() : undefined;
  const workerRunning = () => assertRunning(worker, 'worker');
  /** Starts the worker if the ingress ran without it, and waits until its relay has drained the inbox. */
  const drainInbox = async (label: string) => {
    worker ??= startWorker();
    for (let c = await inboxCounts(db); c.pending > 0; c = await inboxCounts(db)) {
      workerRunning();
      progress(`${label}: ${c.pending} events still pending`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const api = spawnProcess('api/main.ts', { ...env, PORT: String(apiPort) });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok) break;
    } catch {
      if (i > 600) throw new Error('the API did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const bare = await startBareEndpoint();
  const urlOf = (port: number) => `http://127.0.0.1:${port}/webhooks/stripe/${workspaceId}`;

  // Steady state, as in an account whose customers have had events before: each has
  // mirror rows and analytics, and those whose events reached a play have a running
  // workflow. One round of the mix (one event per customer), drained before timing.
  let warmedUp = 0;
  if (!values.cold) {
    progress(`warm-up: one event for each of ${customers} customers`);
    await load(urlOf(apiPort), signedRequests(customers, 0, 'evt_warmup'));
    await drainInbox('warm-up');
    await playsSettled(temporalAddress, 'warm-up', workerRunning);
    warmedUp = customers;
    if (!relayDuringLoad) {
      await stopProcess(worker);
      worker = undefined;
    }
  }

  const count = rate * seconds;
  const ramp = rate * rampSeconds;
  const results: TrialResult[] = [];
  for (let t = 0; t < trials; t++) {
    // Each trial's events follow the previous ones', the first trial's the warm-up's
    // round, so recoveries pay invoices that failed the round before.
    const first = warmedUp + t * (ramp + count);
    // The ramp's events (untimed), then the timed ones, in one open-loop stream.
    const stream = () => [...signedRequests(ramp, first, `evt_t${t}_ramp`), ...signedRequests(count, first + ramp, `evt_t${t}_bench`, ramp)];
    const label = `trial ${t + 1} of ${trials}`;
    progress(`${label}: ${ramp + count} requests at ${rate}/s to a bare Express endpoint (the first ${rampSeconds} s untimed)`);
    // Signed before the probe starts, so its timed window opens with the load's.
    const bareRequests = stream();
    const baseline = await probingDisk(postgresDir, () => load(urlOf(bare.port), bareRequests, ramp));
    bare.assertRunning();
    // A do-nothing endpoint that failed to answer would make the baseline a figure of the failures.
    if (baseline.errors > 0) throw new Error(`the bare endpoint failed ${baseline.errors} of ${bareRequests.length} requests (answers: ${JSON.stringify(baseline.statuses)})`);
    progress(`${label}: baseline p99 ${percentile(baseline.latencies, 99).toFixed(2)} ms; now the real ingress`);
    // Scraping also resets prom-client's event-loop figures: the ones after cover this trial.
    const stepsBefore = relaySteps(await scrape(worker ? workerMetricsPort : undefined));
    const apiBefore = await scrape(apiPort);
    const startedAt = Date.now();
    const cpuBefore = cpuSnapshot(parts);
    const walBefore = await walWritten(db);
    const checkpointsBefore = await checkpointsBegun(db);
    const realRequests = stream();
    const beside = bareBeside > 0 ? { url: urlOf(bare.port), every: bareBeside } : undefined;
    const real = await probingDisk(postgresDir, () => load(urlOf(apiPort), realRequests, ramp, beside));
    if (beside) bare.assertRunning();
    const cpu = cpuShares(cpuBefore, cpuSnapshot(parts)) ?? 'n/a (no /proc)';
    const apiSide = describeApi(apiBefore, await scrape(apiPort));
    progress(`${label}: the API's view: ${apiSide}`);
    const ackWindows = `${acksByWindow(real.latencies, rate)} ms, ${(await checkpointsBegun(db)) - checkpointsBefore} checkpoints begun (ramp included)`;
    progress(`${label}: ack p99 by 5 s of the timed load: ${ackWindows}`);
    if (beside) progress(`${label}: the bare endpoint beside the real load: p99 ${percentile(real.besideLatencies, 99).toFixed(2)} ms of ${real.besideLatencies.length}`);
    const disk = { bare: baseline.disk, real: real.disk };
    if (diskProbeRate > 0) progress(`${label}: the disk probe's flushes: ${describeFlushes(disk)}`);
    progress(`${label}: cores used under the real load: ${cpu}`);
    progress(`${label}: sent ${ramp + count} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (answers: ${JSON.stringify(real.statuses)}); waiting for the relay to drain the inbox`);
    await drainInbox(label);
    const drainedAt = Date.now();
    const wal = describeWal(walBefore, await walWritten(db), ramp + count);
    progress(`${label}: WAL from the load's start until drained: ${wal.line}`);
    const workerAfter = await scrape(workerMetricsPort);
    const steps = describeSteps(stepsBefore, relaySteps(workerAfter), workerAfter);
    progress(`${label}: relay, per call: ${steps}`);
    await playsSettled(temporalAddress, label, workerRunning);
    if (!relayDuringLoad) {
      // The next trial's ingress runs without a worker again.
      await stopProcess(worker);
      worker = undefined;
    }
    results.push({ ...(await trialResult(db, t, { baseline, real, ramp, drainSeconds: (drainedAt - startedAt) / 1000 })), relaySteps: steps, apiSide, cpu, walKbPerEvent: wal.kbPerEvent, wal: wal.line, disk, ackWindows });
  }

  // The 50th percentile by nearest rank (report.ts): with an odd number of trials, the middle one.
  const median = (pick: (r: TrialResult) => number) => percentile(results.map(pick), 50);
  const byTrial = (pick: (r: TrialResult) => number) =>
    results
      .map(pick)
      .map((v) => v.toFixed(v >= 100 ? 0 : 2))
      .join(' / ');
  const lagFigure = (pick: (r: TrialResult) => number) => (relayDuringLoad ? Number(median(pick).toFixed(1)) : 'n/a');
  const besideFigure = (pick: (p99: number, r: TrialResult) => number) => {
    const each = results.flatMap((r) => (r.besideP99 !== undefined ? [pick(r.besideP99, r)] : []));
    return each.length > 0 ? Number(percentile(each, 50).toFixed(2)) : 'n/a';
  };
  const diskP99s = results.flatMap((r) => (r.disk?.real ? [r.disk.real.p99Ms] : []));
  const figures = {
    rate,
    seconds,
    ramp_seconds: rampSeconds,
    trials,
    sent: count * trials,
    stored: results.reduce((n, r) => n + r.stored, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    for_plays: results.reduce((n, r) => n + r.forPlays, 0),
    // Each figure is the median over the trials; a trial's ratio pairs its own baseline.
    p50_ms: Number(median((r) => r.p50).toFixed(2)),
    p99_ms: Number(median((r) => r.p99).toFixed(2)),
    baseline_p99_ms: Number(median((r) => r.baselineP99).toFixed(2)),
    ratio: Number(median((r) => r.p99 / r.baselineP99).toFixed(2)),
    p99_ms_by_trial: byTrial((r) => r.p99),
    baseline_p99_ms_by_trial: byTrial((r) => r.baselineP99),
    // The bare endpoint answering beside the real load (--bare-beside): a do-nothing
    // endpoint's tail on the loaded machine, and each trial's ack p99 over it.
    bare_beside_p99_ms: besideFigure((p99) => p99),
    ratio_to_bare_beside: besideFigure((p99, r) => r.p99 / p99),
    bare_beside_p99_ms_by_trial: bareBeside > 0 ? byTrial((r) => r.besideP99 ?? NaN) : 'n/a',
    relay: relayDuringLoad ? 'during load' : 'after load',
    // Lag means something only when the relay ran while events arrived.
    relay_lag_p50_ms: lagFigure((r) => r.lagP50),
    relay_lag_p99_ms: lagFigure((r) => r.lagP99),
    relay_lag_p99_ms_by_trial: relayDuringLoad ? byTrial((r) => r.lagP99) : 'n/a',
    // The same split by whether the event reached a play (its signal is part of its lag).
    relay_lag_p99_ms_plays: lagFigure((r) => r.lagP99Plays),
    relay_lag_p99_ms_others: lagFigure((r) => r.lagP99Others),
    // The ramp's own events: the relay going from idle (the baseline's time) to the full rate.
    ramp_relay_lag_p99_ms: relayDuringLoad && rampSeconds > 0 ? Number(median((r) => r.rampLagP99).toFixed(1)) : 'n/a',
    drain_events_per_s: Number(median((r) => r.drainPerSecond).toFixed(1)),
    relay_steps_by_trial: results.map((r) => r.relaySteps).join(' / '),
    api_by_trial: results.map((r) => r.apiSide).join(' / '),
    cpu_by_trial: results.map((r) => r.cpu).join(' / '),
    wal_kb_per_event: Number(median((r) => r.walKbPerEvent ?? 0).toFixed(1)),
    wal_by_trial: results.map((r) => r.wal).join(' / '),
    disk_flush_p99_ms: diskP99s.length > 0 ? Number(percentile(diskP99s, 50).toFixed(2)) : 'n/a',
    disk_flush_by_trial: diskProbeRate > 0 ? results.map((r) => describeFlushes(r.disk ?? {})).join(' / ') : 'n/a',
    ack_p99_by_5s_by_trial: results.map((r) => r.ackWindows).join(' / '),
  };

  await bare.stop();
  await Promise.all([stopProcess(api), stopProcess(worker)]);
  await db.destroy();

  recordBenchmark(relayDuringLoad ? 'webhooks' : 'webhooks-ingress-only', `npm run bench -- webhooks --rate ${rate} --seconds ${seconds} --ramp ${rampSeconds} --trials ${trials}${relayDuringLoad ? '' : ' --relay off'}${diskProbeRate === DISK_PROBE_RATE ? '' : ` --disk-probe ${diskProbeRate}`}${bareBeside === 0 ? '' : ` --bare-beside ${bareBeside}`}`, figures, [
    `targets: ratio ≤ 3, p99_ms ≤ 50, errors = 0, stored = sent, relay_lag_p99_ms ≤ 1000`,
    `services: Postgres with fsync on (an ack waits for its insert to reach the disk); the Temporal dev server at nice ${TEMPORAL_NICE}, the worker at the API's priority, all its threads but the relay's ${PLAYS_NICE} nice values below it (WORKER_PLAYS_NICE); cpu_by_trial: the cores each part used (user + system time, all its threads, from /proc) while the real ingress was loaded, and how many of the machine's cores were busy; wal_kb_per_event: Postgres's WAL (pg_stat_wal) from the start of the real load until the relay drained the inbox, per event sent (the ingress's inserts and the relay's writes: what each ack's flush to disk shares); disk_flush: a thread of the benchmark's own (its CPU counted with the bench's) writing 8 kB and waiting for fdatasync ${diskProbeRate} times a second into a file of its own beside Postgres's data, through each load, timed after the ramp: a rough floor under a durable ack's tail, set by the disk and by what else the machine runs (it adds its own flushes to the load, and a stall counts as one flush however long; disk_flush_p99_ms: under the real load, the median over the trials); ack_p99_by_5s_by_trial: the real ingress's ack p99 in each 5 s of the timed load, by answers in the order they came (one window far above the rest: a stall, such as the disk's; all of them up: busy cores), and the checkpoints Postgres began during the load, its ramp included; bare_beside: ${bareBeside > 0 ? `one request of the real load in ${bareBeside} also sent to the bare endpoint at the same moment, its 200s timed after the ramp: a do-nothing endpoint's tail on the machine as the full stack leaves it (the bare endpoint has a thread and event loop of its own, apart from the Stripe simulator's); ratio_to_bare_beside: the median of each trial's ack p99 over it. The ratio target is judged on ratio, whose baseline runs on the quiet stack` : 'off (--bare-beside 0)'}`,
    `load: one worker thread in the same process, open-loop, keep-alive; ${customers} customers, ${values.cold ? 'no warm-up (--cold)' : 'one warm-up event each, not timed'}; the same load runs ${rampSeconds} s before the ${seconds} timed seconds without a break, untimed (ramp_relay_lag_p99_ms: those events' lag), for the bare endpoint too; ${trials} trials, each the bare endpoint then the real ingress (after the inbox drained), each figure the median over the trials (ratio: of each trial's own ratio), by_trial rows list each trial's; mix per customer of 20 events: 8 subscription updates, 8 first-try payments, 1 failed payment, 1 recovery, 1 refund, 1 subscription end (for_plays: events that reached a play's workflow); relay lag = processed_at − received_at per event`,
  ]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
