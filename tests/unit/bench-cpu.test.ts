import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuShares, cpuSnapshot, parentPid, type CpuSnapshot } from '../../bench/_cpu';

/** A snapshot by hand: ticks per pid and part, the machine's busy and total ticks. */
const snapshot = (at: number, byPid: [number, string, number][], busy: number, total: number): CpuSnapshot => ({
  at,
  byPid: new Map(byPid.map(([pid, part, ticks]) => [pid, { part, ticks }])),
  machine: { busy, total },
});

describe("the webhook benchmark's CPU shares", () => {
  it('gives each part its cores over the stretch, counting a process that started in it from zero', () => {
    const before = snapshot(0, [[1, 'api', 100], [2, 'worker', 50], [3, 'postgres', 10]], 1_000, 2_000);
    // 10 s later: api used 400 ticks (0.40 core), worker 900 (0.90), postgres 100 + a new backend 200 (0.30).
    const after = snapshot(10_000, [[1, 'api', 500], [2, 'worker', 950], [3, 'postgres', 110], [4, 'postgres', 200]], 1_000 + 1_500, 2_000 + 2_000);
    const line = cpuShares(before, after)!;
    expect(line).toMatch(/^worker 0\.90, api 0\.40, postgres 0\.30; /);
    // 1,500 of 2,000 ticks busy on this machine's cores.
    const cores = os.cpus().length;
    expect(line.endsWith(`; ${(0.75 * cores).toFixed(2)} of ${cores} cores busy`)).toBe(true);
  });

  it('has nothing to say without both snapshots or without time between them', () => {
    const s = snapshot(5, [], 0, 1);
    expect(cpuShares(null, s)).toBeNull();
    expect(cpuShares(s, s)).toBeNull();
  });

  it('reads this process from /proc, with the CPU it has used', () => {
    const until = Date.now() + 50;
    while (Date.now() < until);
    const snap = cpuSnapshot(({ pid }) => (pid === process.pid ? 'me' : null))!;
    expect([...snap.byPid.keys()]).toEqual([process.pid]);
    expect(snap.byPid.get(process.pid)!.ticks).toBeGreaterThan(0);
    expect(snap.machine.total).toBeGreaterThan(snap.machine.busy);
    expect(parentPid(process.pid)).toBe(process.ppid);
  });
});
