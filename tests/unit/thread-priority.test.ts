import { spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lowerOtherThreads } from '../../platform/thread-priority';

interface ChildThreads {
  main: number;
  kept: number;
  other: number;
  later: number;
  lowered: number;
  threadsThen: number[];
}

/** Runs the fixture with `steps`, reads its threads' priorities from here while it is up, then ends it. */
async function threadsOfChild(steps: number): Promise<{ ids: ChildThreads; nice: (tid: number) => number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../fixtures/thread-priority/child.ts'), String(steps)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`the child exited (${code}) before printing its threads`)));
  });
  const ids = JSON.parse(line) as ChildThreads;
  const priorities = new Map([ids.main, ids.kept, ids.other, ids.later, ...ids.threadsThen].map((tid) => [tid, getPriority(tid)]));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end();
  await exited;
  return { ids, nice: (tid) => priorities.get(tid)! };
}

// Per-thread priorities are a Linux feature (setpriority on a thread id); elsewhere the helper changes nothing.
describe.runIf(process.platform === 'linux')('lowerOtherThreads', () => {
  const base = getPriority();

  it('lowers every thread but the kept one, and threads started after from a lowered one begin lowered', async () => {
    const { ids, nice } = await threadsOfChild(5);
    const lowered = Math.min(19, base + 5);
    expect(ids.main).not.toBe(ids.kept);
    expect(nice(ids.kept)).toBe(base);
    expect(nice(ids.main)).toBe(lowered);
    expect(nice(ids.other)).toBe(lowered);
    expect(nice(ids.later)).toBe(lowered);
    // Node's own threads too (V8's platform threads, libuv's pool): all of them but one.
    expect(ids.threadsThen.length).toBeGreaterThan(3);
    expect(ids.lowered).toBe(ids.threadsThen.length - 1);
    for (const tid of ids.threadsThen.filter((t) => t !== ids.kept)) expect(nice(tid)).toBe(lowered);
  });

  it('never goes past the lowest priority', async () => {
    const { ids, nice } = await threadsOfChild(30);
    expect(nice(ids.kept)).toBe(base);
    expect(nice(ids.main)).toBe(19);
    expect(nice(ids.other)).toBe(19);
  });
});

describe('lowerOtherThreads refuses', () => {
  it.each([-1, 1.5, Number.NaN])('%s steps, before touching any thread', (steps) => {
    expect(() => lowerOtherThreads([], steps)).toThrow(/steps must be a whole number/);
  });
});
