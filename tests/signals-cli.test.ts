import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../db/api-tokens';
import { insertWorkspace } from '../db/workspaces';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { SimAccount } from '../sim/account';
import { productSignals } from '../sim/product-usage';
import { startApi, type TestApi } from './helpers/api';
import { freshDatabase } from './helpers/db';

describe('npm run wysera -- signals send', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_signals_cli';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let env: Record<string, string>;
  let dir: string;
  const rows = async () => Number((await database.db('product_signals').where({ workspace_id: ws }).count<{ count: number }[]>('* as count'))[0]!.count);

  /** Runs the command line against this API; never throws, so a refusal can be read. */
  const wysera = (args: string[], more: Record<string, string> = {}) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'scripts/wysera.ts', ...args], { env: { ...process.env, ...env, ...more } }, (err, _stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, stderr });
      });
    });

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'CLI', webhookSecret: 'whsec_cli' });
    const member = (await createApiToken(database.db, { workspaceId: ws, role: 'member', name: 'product', createdBy: 'test' })).token;
    api = await startApi(database.db, keyring);
    env = { WYSERA_API_URL: api.url, WYSERA_TOKEN: member, WYSERA_WORKSPACE: ws };
    dir = await mkdtemp(join(tmpdir(), 'wysera-signals-'));
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sends a simulated product's signals a thousand a request, and sending them again stores nothing twice", async () => {
    const account = new SimAccount({ seed: 'signals-cli', customers: 40, months: 3 });
    const signals = [...productSignals(account, 30)];
    expect(signals.length).toBeGreaterThan(1000);
    const file = join(dir, 'signals.ndjson');
    await writeFile(file, `${signals.map((s) => JSON.stringify(s)).join('\n')}\n\n`);

    const first = await wysera(['signals', 'send', file]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`sent 1000 signals: 1000 stored, 0 duplicates`);
    expect(first.stderr).toContain(`sent ${signals.length} signals: ${signals.length} stored, 0 duplicates`);
    // No customer of the simulated account is mirrored in this workspace.
    expect(first.stderr).toMatch(/customers are not in the mirror \(stored anyway\): cus_/);
    expect(await rows()).toBe(signals.length);

    const again = await wysera(['signals', 'send', file]);
    expect(again.stderr).toContain(`sent ${signals.length} signals: 0 stored, ${signals.length} duplicates`);
    expect(await rows()).toBe(signals.length);
  });

  it('sends signals with long ids in smaller requests, under the API\'s body limit', async () => {
    const long = (i: number) => JSON.stringify({ type: 'login', id: `${'x'.repeat(240)}-${i}`, customerId: `cus_${'y'.repeat(60)}`, at: '2026-01-01T00:00:00Z' });
    const file = join(dir, 'long.ndjson');
    await writeFile(file, Array.from({ length: 1000 }, (_, i) => long(i)).join('\n'));
    const res = await wysera(['signals', 'send', file]);
    expect(res.code).toBe(0);
    const sent = [...res.stderr.matchAll(/sent (\d+) signals/g)].map((m) => Number(m[1]));
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.at(-1)).toBe(1000);
  });

  it("waits out the API's rate limit as it says, and sends every request", async () => {
    // An API allowing one request each 2 s per token: the second and third requests are answered 429 with Retry-After first.
    const limited = await startApi(database.db, keyring, { signalsRequestsPerMinute: 1, signalsRateWindowMs: 2_000 });
    try {
      const before = await rows();
      const login = (i: number) => JSON.stringify({ type: 'login', id: `cli-limited-${i}`, customerId: 'cus_cli', at: '2026-01-01T00:00:00Z' });
      const file = join(dir, 'limited.ndjson');
      await writeFile(file, Array.from({ length: 2_500 }, (_, i) => login(i)).join('\n'));
      const res = await wysera(['signals', 'send', file], { WYSERA_API_URL: limited.url });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toMatch(/the API asks to wait before the next request: waiting \d+ s/);
      expect(res.stderr).toContain('sent 2500 signals: 2500 stored, 0 duplicates');
      expect(await rows()).toBe(before + 2_500);
    } finally {
      await limited.close();
    }
  });

  it('names signals sent before with something else, corrects them with --replace, and deletes one by id', async () => {
    const use = (i: number, quantity: number) => JSON.stringify({ type: 'usage', id: `cli-fix-${i}`, customerId: 'cus_cli', at: '2026-01-01T00:00:00Z', metric: 'reports', quantity });
    const quantities = async () => database.db('product_signals').where({ workspace_id: ws }).where('signal_id', 'like', 'cli-fix-%').orderBy('signal_id').pluck<number[]>('quantity');
    const file = join(dir, 'fix.ndjson');
    await writeFile(file, [use(1, 10), use(2, 20), use(3, 30)].join('\n'));
    expect((await wysera(['signals', 'send', file])).code).toBe(0);
    // Two of them sent again with other quantities: named, and the first ones stand.
    await writeFile(file, [use(1, 11), use(2, 21), use(3, 30)].join('\n'));
    const conflicting = await wysera(['signals', 'send', file]);
    expect(conflicting.code).toBe(0);
    expect(conflicting.stderr).toContain('sent 3 signals: 0 stored, 1 duplicates, 2 conflicting');
    expect(conflicting.stderr).toContain('2 signals were stored before with something else under their ids (the first ones stand; send the file again with --replace to correct them): cli-fix-1, cli-fix-2');
    expect(await quantities()).toEqual([10, 20, 30]);
    const replaced = await wysera(['signals', 'send', file, '--replace']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toContain('sent 3 signals: 0 stored, 1 duplicates, 2 replaced');
    expect(await quantities()).toEqual([11, 21, 30]);

    // Signals from before the retention period are stored, and the run says what becomes of them.
    await writeFile(file, JSON.stringify({ type: 'login', id: 'cli-ancient', customerId: 'cus_cli', at: '2024-06-01T00:00:00Z' }));
    expect((await wysera(['signals', 'send', file])).stderr).toContain("1 signals written (stored, or corrected with --replace) are older than the server keeps them (PRODUCT_SIGNALS_RETENTION_DAYS): only each customer's latest of a kind outlives its next retention run");

    const deleted = await wysera(['signals', 'delete', 'cli-fix-3']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stderr).toContain('deleted signal cli-fix-3');
    expect(await quantities()).toEqual([11, 21]);
    const missing = await wysera(['signals', 'delete', 'cli-fix-3']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no product signal with id "cli-fix-3" in this workspace');
  });

  it("names the file's lines at fault, and says what was stored before them", async () => {
    const before = await rows();
    const login = (i: number) => JSON.stringify({ type: 'login', id: `cli-${i}`, customerId: 'cus_cli', at: '2026-01-01T00:00:00Z' });
    const badQuantity = JSON.stringify({ type: 'usage', id: 'cli-bad', customerId: 'cus_cli', at: '2026-01-01T00:00:00Z', metric: 'reports', quantity: -1 });
    const refused = join(dir, 'refused.ndjson');
    await writeFile(refused, [...Array.from({ length: 1000 }, (_, i) => login(i)), login(1000), badQuantity].join('\n'));
    const res = await wysera(['signals', 'send', refused]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('line 1002 quantity: Too small');
    expect(res.stderr).toContain('(the 1000 signals before line 1001 are stored)');
    expect(await rows()).toBe(before + 1000);

    const notJson = join(dir, 'not-json.ndjson');
    await writeFile(notJson, `${login(2000)}\n{"type": "login",\n`);
    const broken = await wysera(['signals', 'send', notJson]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('line 2 is not JSON (the 0 signals before it are stored)');
    expect(await rows()).toBe(before + 1000);
  });
});
