import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Stripe from 'stripe';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');

interface Started {
  url: string;
  port: number;
  accountId: string;
  secretKey: string;
  restrictedKey: string;
  accounts: Array<{ id: string; platform: string | null }>;
}

function start(args: string[]): Promise<{ child: ChildProcess; info: Started }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sim/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve({ child, info: JSON.parse(line) as Started }));
    child.once('exit', (code) => reject(new Error(`sim exited with ${code}: ${stderr}`)));
  });
}

describe('sim/main.ts', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGTERM');
  });

  it('prints its URL, account and keys as one JSON line and serves them; --live moves time on', async () => {
    const { child, info } = await start(['--seed', '4', '--customers', '40', '--months', '3', '--port', '0', '--connected', '1', '--live', '--tick-ms', '200', '--tick-seconds', '86400']);
    children.push(child);
    expect(info.url).toBe(`http://127.0.0.1:${info.port}`);
    expect(info.accountId).toMatch(/^acct_/);
    expect(info.secretKey).toMatch(/^sk_test_/);
    expect(info.restrictedKey).toMatch(/^rk_test_/);
    expect(info.accounts).toHaveLength(2);
    expect(info.accounts[1]?.platform).toBe(info.accountId);

    const stripe = new Stripe(info.restrictedKey, { host: '127.0.0.1', port: info.port, protocol: 'http', maxNetworkRetries: 0 });
    const customers = await stripe.customers.list({ limit: 100 });
    expect(customers.data.length).toBeGreaterThanOrEqual(40);

    const now = async (): Promise<number> => ((await (await fetch(`${info.url}/_sim/info`)).json()) as { accounts: Array<{ now: number }> }).accounts[0]!.now;
    const first = await now();
    const deadline = Date.now() + 10_000;
    let later = await now();
    while (later < first + 2 * 86_400 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      later = await now();
    }
    expect(later).toBeGreaterThanOrEqual(first + 2 * 86_400);
  });

  it('refuses bad arguments naming them', async () => {
    await expect(start(['--customers', '-3'])).rejects.toThrow(/customers/);
  });

  it('is deterministic: the same seed prints the same account and keys', async () => {
    const one = await start(['--seed', '12', '--customers', '10', '--months', '2', '--port', '0']);
    children.push(one.child);
    const two = await start(['--seed', '12', '--customers', '10', '--months', '2', '--port', '0']);
    children.push(two.child);
    expect(two.info.accountId).toBe(one.info.accountId);
    expect(two.info.secretKey).toBe(one.info.secretKey);
  });
});
