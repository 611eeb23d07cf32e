/**
 * `npm run bench -- sync [--customers 5000] [--months 24] [--rps 12] [--kill-at 0.4] [--no-record]`
 *
 * Syncs a generated account from the simulator at a fixed rate limit, with a real
 * Postgres, a Temporal dev server and a worker in its own process, which it kills
 * with SIGKILL part-way and replaces. It counts every request the worker makes
 * through a recording proxy in front of the simulator and prints, as its last line:
 * {"bench":"sync","requests":N,"limit_rps":R,"seconds":S,"floor_seconds":F,"ratio":S/F,
 *  "over_limit":K,"resume_refetched_pages":P, ...}
 * `seconds` leaves out the time the worker was dead (from the kill until the first
 * request of its replacement: Temporal's heartbeat timeout plus worker start-up),
 * which no sync speed can shorten; `wall_seconds` includes it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { endpointOf, StripeClients } from '../activities/stripe-client';
import { PAGE_SIZE } from '../activities/sync';
import { createApi } from '../api/app';
import { serveOnLoopback } from '../tests/setup/loopback';
import { createDb } from '../db/knex';
import { migrationConfig } from '../db/migrations';
import { progressBar, type ResourceEstimate } from '../domain/sync-progress';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { createLogger } from '../platform/logger';
import { createMetrics } from '../platform/metrics';
import { startSimulator } from '../sim/server';
import { freePort } from '../tests/setup/ports';
import { startTemporalDevServerOnFreePort } from '../tests/setup/temporal-server';
import { toolPaths } from '../tests/setup/tools';
import { workflowsPath } from '../workers/worker';
import { recordBenchmark } from './report';
import { stopOnInterrupt } from './_interrupt';

const root = path.resolve(__dirname, '..');

interface Logged {
  at: number;
  method: string;
  url: string;
  status: number;
}

/** A pass-through HTTP proxy that logs every request (the worker's view of Stripe). */
async function recordingProxy(target: string): Promise<{ url: string; log: Logged[]; reset(): void; close(): Promise<void> }> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const log: Logged[] = [];
  const server: Server = createServer((req, res) => {
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, agent }, (upRes) => {
      log.push({ at: Date.now(), method: req.method ?? 'GET', url: req.url ?? '', status: upRes.statusCode ?? 0 });
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    reset: () => log.splice(0),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
        agent.destroy();
      }),
  };
}

/** Worker processes not yet ended, from the moment they are spawned: the clean-up stops them all. */
const liveWorkers = new Set<ChildProcess>();

/** The worker runs in one node process (tsx as a loader, not a wrapper), so SIGKILL really kills it. */
function startWorker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench', '_sync-worker.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  liveWorkers.add(child);
  child.once('exit', () => liveWorkers.delete(child));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sync worker exited with ${code} before it was ready`)));
    child.stdout.on('data', (d: Buffer) => {
      // With BENCH_LOG_LEVEL set, the worker's logs (per-page timings at debug) are shown.
      if (env.BENCH_LOG_LEVEL) process.stderr.write(d);
      if (d.toString().includes('ready')) resolve(child);
    });
  });
}

const options = z.object({
  customers: z.coerce.number().int().min(1),
  months: z.coerce.number().int().min(1),
  rps: z.coerce.number().positive(),
  'kill-at': z.coerce.number().min(0).max(0.95),
  seed: z.string().min(1),
  record: z.boolean(),
});

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      customers: { type: 'string', default: '5000' },
      months: { type: 'string', default: '24' },
      rps: { type: 'string', default: '12' },
      'kill-at': { type: 'string', default: '0.4' },
      seed: { type: 'string', default: 'bench' },
      'no-record': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const o = options.parse({ ...values, record: !values['no-record'] });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const cleanups: (() => Promise<void> | void)[] = [];
  const tools = toolPaths();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wysera-bench-sync-'));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  let worker: ChildProcess | undefined;
  const { stop } = stopOnInterrupt(async () => {
    // Every worker, also one still starting (a replacement, or the first when interrupted).
    const workers = [...liveWorkers];
    for (const w of workers) w.kill('SIGTERM');
    if (workers.length > 0) await new Promise((r) => setTimeout(r, 500));
    for (const w of liveWorkers) w.kill('SIGKILL');
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // Best effort: the next step still runs.
      }
    }
  });
  try {
    say(`==> Postgres, Temporal dev server, simulator (${o.customers} customers, ${o.months} months, limit ${o.rps} req/s)`);
    const pgPort = await freePort();
    const pgData = path.join(dir, 'pg');
    execFileSync('bash', [tools.pgScript, 'start', pgData, String(pgPort)], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, WYSERA_PG_FSYNC: 'off' } });
    cleanups.push(() => void execFileSync('bash', [tools.pgScript, 'stop', pgData], { stdio: 'ignore' }));
    const databaseUrl = `postgres://wysera:wysera@127.0.0.1:${pgPort}/wysera`;
    const db = createDb(databaseUrl, 4);
    cleanups.push(() => db.destroy());
    await db.migrate.latest(migrationConfig);

    const temporal = await startTemporalDevServerOnFreePort();
    cleanups.push(() => temporal.stop());
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());

    const simStarted = Date.now();
    const sim = await startSimulator({ seed: o.seed, customers: o.customers, months: o.months, rateLimit: o.rps, port: 0 });
    cleanups.push(() => sim.stop());
    const account = sim.account();
    const sizes: Record<string, number> = {
      products: account.products.size,
      prices: account.prices.size,
      customers: account.customers.size,
      subscriptions: account.subscriptions.size,
      invoices: account.invoices.size,
      charges: account.charges.size,
      refunds: account.refunds.size,
      payment_intents: account.paymentIntents.size,
    };
    const expectedPages = Object.values(sizes).reduce((n, s) => n + Math.max(1, Math.ceil(s / PAGE_SIZE)), 0);
    say(`    generated in ${((Date.now() - simStarted) / 1000).toFixed(1)} s: ${JSON.stringify(sizes)} (~${expectedPages} list pages)`);
    const proxy = await recordingProxy(sim.url);
    cleanups.push(() => proxy.close());

    const bundlePath = path.join(dir, 'workflows.js');
    const bundle = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
    writeFileSync(bundlePath, bundle.code);

    const keySpec = generateKeySpec();
    const taskQueue = `bench-sync-${Date.now()}`;
    const operatorToken = `op_${'b'.repeat(40)}`;
    const apiServer = createApi({
      db,
      temporal: connection,
      keyring: parseKeyring(keySpec),
      log: createLogger('warn', 'bench-api'),
      metrics: createMetrics(),
      webhookMaxBytes: 1 << 20,
      operatorToken,
      stripe: new StripeClients({ endpoint: endpointOf(proxy.url) }),
      taskQueue,
    });
    const { server: http, url: api } = await serveOnLoopback(apiServer.serve);
    cleanups.push(() => new Promise<void>((r) => http.close(() => r())));
    const call = async (method: string, p: string, token: string, body?: unknown) => {
      const res = await fetch(`${api}${p}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const created = await call('POST', '/workspaces', operatorToken, {
      name: 'Benchmark',
      stripeKey: sim.accounts[0]!.restrictedKey,
      webhookSecret: 'whsec_bench',
      settings: { stripeRateLimitRps: o.rps, historyMonths: o.months },
      sync: false,
    });
    const workspaceId = (created.workspace as { id: string }).id;
    const owner = created.ownerToken as string;

    const workerEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      WYSERA_ENCRYPTION_KEYS: keySpec,
      STRIPE_API_BASE: proxy.url,
      BENCH_TASK_QUEUE: taskQueue,
      BENCH_WORKFLOW_BUNDLE: bundlePath,
    };
    say('==> starting the worker');
    worker = await startWorker(workerEnv);
    // The rate limiter is per process, so the sync starts on a fresh bucket; the
    // validation requests above are not part of the sync.
    await new Promise((r) => setTimeout(r, 1100));
    proxy.reset();
    sim.resetStats();

    const started = Date.now();
    const run = await call('POST', `/workspaces/${workspaceId}/sync`, owner, { mode: 'full' });
    say(`==> syncing (${String(run.runId)}), killing the worker at ${Math.round(o['kill-at'] * 100)}% of the pages`);
    let killedAt: number | undefined;
    let replacementReadyAt: number | undefined;
    let status = 'running';
    let estimates: ResourceEstimate[] = [];
    let lastPrint = 0;
    while (status === 'running') {
      await new Promise((r) => setTimeout(r, 250));
      const body = await call('GET', `/workspaces/${workspaceId}/sync`, owner);
      status = (body.run as { status: string }).status;
      estimates = body.resources as ResourceEstimate[];
      const pages = estimates.reduce((n, e) => n + e.pages, 0);
      if (Date.now() - lastPrint > 2000 || status !== 'running') {
        lastPrint = Date.now();
        say(`--- ${((Date.now() - started) / 1000).toFixed(1)} s, ${proxy.log.length} requests, ${pages}/${expectedPages} pages`);
        for (const e of estimates) say(`    ${progressBar(e)}`);
      }
      if (killedAt === undefined && pages >= o['kill-at'] * expectedPages && status === 'running') {
        worker.kill('SIGKILL');
        killedAt = Date.now();
        say(`==> killed the worker with SIGKILL at ${pages} pages; starting a new one`);
        worker = await startWorker(workerEnv);
        replacementReadyAt = Date.now();
      }
    }
    const finished = Date.now();
    if (status !== 'completed') throw new Error(`the sync ended ${status}: ${JSON.stringify(await call('GET', `/workspaces/${workspaceId}/sync`, owner))}`);

    const log = [...proxy.log];
    const requests = log.length;
    const overLimit = log.filter((l) => l.status === 429).length;
    const seen = new Map<string, number>();
    for (const l of log) if (l.method === 'GET' && l.status === 200) seen.set(l.url, (seen.get(l.url) ?? 0) + 1);
    const refetched = [...seen.values()].filter((n) => n > 1).reduce((s, n) => s + n - 1, 0);
    const resumedAt = killedAt === undefined ? undefined : log.find((l) => l.at >= (replacementReadyAt ?? killedAt))?.at;
    const downtime = killedAt !== undefined && resumedAt !== undefined ? (resumedAt - killedAt) / 1000 : 0;
    const wall = (finished - started) / 1000;
    const seconds = wall - downtime;
    const floor = requests / o.rps;
    const result = {
      bench: 'sync',
      requests,
      limit_rps: o.rps,
      seconds: Number(seconds.toFixed(2)),
      floor_seconds: Number(floor.toFixed(2)),
      ratio: Number((seconds / floor).toFixed(3)),
      over_limit: overLimit,
      resume_refetched_pages: refetched,
      resources: estimates.length,
      wall_seconds: Number(wall.toFixed(2)),
      downtime_seconds: Number(downtime.toFixed(2)),
      customers: o.customers,
      months: o.months,
      objects: estimates.reduce((n, e) => n + e.objects, 0),
      pages: estimates.reduce((n, e) => n + e.pages, 0),
      sim_rate_limited: sim.stats().rateLimited,
    };
    const { bench: _name, ...figures } = result;
    if (o.record) {
      recordBenchmark('sync', `npm run bench -- sync${argv.length ? ` ${argv.join(' ')}` : ''}`, figures, [
        `${o.customers} customers over ${o.months} months from the simulator (seed ${o.seed}), synced through a recording proxy at ${o.rps} req/s, which the simulator enforces with 429s`,
        `the worker is killed with SIGKILL at ${Math.round(o['kill-at'] * 100)}% of the pages and a new one resumes; floor_seconds = requests / limit_rps; seconds leaves out downtime_seconds (kill until the replacement's first request: heartbeat timeout plus process start), wall_seconds includes it`,
      ]);
    } else {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    await stop();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
