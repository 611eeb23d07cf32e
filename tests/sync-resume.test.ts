import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject, afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySpec } from '../platform/crypto';
import { eventually, workflowBundle } from './helpers/temporal';
import { syncHarness, type SyncHarness } from './sync-harness';

/**
 * A worker killed with SIGKILL mid-sync: its replacement resumes each resource from
 * the last page it stored, so no page is stored twice and at most the page in
 * flight is fetched again.
 */
const root = path.resolve(__dirname, '..');
let h: SyncHarness;
let dir: string;
const children: ChildProcess[] = [];

/** One node process (tsx as a loader, not a wrapper), so SIGKILL really kills the worker. */
function startWorkerProcess(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench', '_sync-worker.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
  });
}

beforeAll(async () => {
  h = await syncHarness({ seed: 'resume', customers: 400, months: 24, rateLimit: 25 }, { keySpec: generateKeySpec() });
  dir = mkdtempSync(path.join(os.tmpdir(), 'wysera-resume-'));
  writeFileSync(path.join(dir, 'workflows.js'), (await workflowBundle()).code);
}, 120_000);

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
    c.stdout?.destroy();
  }
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a sync whose worker is killed', () => {
  it('resumes from the last stored page', async () => {
    const created = await h.call('POST', '/workspaces', { name: 'Resume', stripeKey: h.sim.accounts[0]!.restrictedKey, webhookSecret: 'whsec_resume', sync: false, settings: { stripeRateLimitRps: 20 } });
    expect(created.status).toBe(201);
    const ws = (created.body.workspace as { id: string }).id;
    const owner = created.body.ownerToken as string;
    const env = {
      ...process.env,
      DATABASE_URL: h.databaseUrl,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      WYSERA_ENCRYPTION_KEYS: h.keySpec,
      STRIPE_API_BASE: h.sim.url,
      BENCH_TASK_QUEUE: h.taskQueue,
      BENCH_WORKFLOW_BUNDLE: path.join(dir, 'workflows.js'),
    };
    const first = await startWorkerProcess(env);
    h.sim.resetStats();
    const run = await h.call('POST', `/workspaces/${ws}/sync`, {}, owner);
    expect(run.status).toBe(202);
    type Progress = { run: { status: string }; resources: { resource: string; pages: number; done: boolean }[] };
    const progress = async () => (await h.call('GET', `/workspaces/${ws}/sync`, undefined, owner)).body as unknown as Progress;
    const atKill = await eventually(progress, (p) => (p.resources.find((r) => r.resource === 'invoices')?.pages ?? 0) >= 3, 60_000);
    first.kill('SIGKILL');
    // The kill lands mid-sync: invoices still have pages to go.
    expect(atKill.resources.find((r) => r.resource === 'invoices')!.done).toBe(false);
    const killedAt = Date.now();
    await startWorkerProcess(env);
    const done = await eventually(progress, (p) => p.run.status !== 'running', 120_000);
    expect(done.run.status).toBe('completed');

    const account = h.sim.account();
    const count = async (t: string) => Number((await h.db(t).where({ workspace_id: ws }).count<{ c: string }[]>('* as c'))[0]!.c);
    expect(await count('stripe_invoices')).toBe(account.invoices.size);
    expect(await count('stripe_charges')).toBe(account.charges.size);
    // Each page was stored once: the recorded pages are exactly the list's pages.
    const invoices = done.resources.find((r) => r.resource === 'invoices')!;
    expect(invoices.pages).toBe(Math.ceil(account.invoices.size / 100));
    // Pages fetched twice: at most the one in flight per resource. (Not the reads of single
    // objects a page names, a tiered price's tiers or a discount's coupon: a page in flight
    // at the kill is read again with them.)
    const seen = new Map<string, number>();
    const pageRead = (path: string) => !/^\/v1\/(prices|coupons)\/[^/]+$/.test(path);
    for (const r of h.sim.requests()) if (r.method === 'GET' && r.status === 200 && pageRead(r.path)) seen.set(r.path + r.query, (seen.get(r.path + r.query) ?? 0) + 1);
    const refetched = [...seen.values()].filter((n) => n > 1).length;
    expect(refetched).toBeLessThanOrEqual(8);
    // The replacement did the rest: requests continued after the kill.
    expect(h.sim.requests().some((r) => r.at >= killedAt)).toBe(true);
  }, 200_000);
});
