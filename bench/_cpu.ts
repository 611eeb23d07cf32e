/**
 * Where a machine's CPU went over a stretch of a benchmark, by part of the stack, read
 * from Linux's /proc: each process's user + system time (all its threads), and the
 * machine's busy time. On a small machine the parts share the cores, so a latency
 * figure is only readable next to how busy they were. Elsewhere (no /proc) there is
 * nothing to read, and `cpuShares` answers null.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Decides which part a process belongs to from its pid, parent pid and command line; null: none of them. */
export type PartOf = (p: { pid: number; ppid: number; cmdline: string }) => string | null;

export interface CpuSnapshot {
  at: number;
  /** Clock ticks of CPU per process and its part; a process that starts in between counts from zero. */
  byPid: Map<number, { part: string; ticks: number }>;
  /** Busy and total clock ticks of the whole machine (/proc/stat's first line). */
  machine: { busy: number; total: number };
}

/** Linux's USER_HZ, the unit of /proc's CPU times (100 on every architecture Node supports). */
const TICKS_PER_SECOND = 100;

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // The process ended between listing and reading it.
    return undefined;
  }
}

/** Reads every process's CPU time and files it under its part; null where there is no /proc. */
export function cpuSnapshot(partOf: PartOf): CpuSnapshot | null {
  const statLine = readOr('/proc/stat')?.split('\n')[0];
  if (!statLine) return null;
  // cpu user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
  const fields = statLine.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const machine = { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  const byPid = new Map<number, { part: string; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readOr(`/proc/${name}/stat`);
    const cmdline = readOr(`/proc/${name}/cmdline`);
    if (stat === undefined || cmdline === undefined) continue;
    // The command name in parentheses may itself hold spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(name);
    const part = partOf({ pid, ppid: Number(rest[1]), cmdline: cmdline.replace(/\0/g, ' ').trim() });
    if (part !== null) byPid.set(pid, { part, ticks: Number(rest[11]) + Number(rest[12]) });
  }
  return { at: Date.now(), byPid, machine };
}

/**
 * Cores each part used on average between two snapshots, and the machine's busy cores,
 * as one line: `worker 0.53, temporal 0.47, api 0.42, ...; 1.98 of 2 cores busy`.
 */
export function cpuShares(before: CpuSnapshot | null, after: CpuSnapshot | null): string | null {
  if (!before || !after || after.at <= before.at) return null;
  const seconds = (after.at - before.at) / 1000;
  const used = new Map<string, number>();
  for (const [pid, { part, ticks }] of after.byPid) {
    const was = before.byPid.get(pid);
    used.set(part, (used.get(part) ?? 0) + ticks - (was?.part === part ? was.ticks : 0));
  }
  const cores = os.cpus().length;
  const busy = ((after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total)) * cores;
  const parts = [...used].sort((a, b) => b[1] - a[1]).map(([part, t]) => `${part} ${(t / TICKS_PER_SECOND / seconds).toFixed(2)}`);
  return `${parts.join(', ')}; ${busy.toFixed(2)} of ${cores} cores busy`;
}

/** A process's parent pid (/proc); undefined when it cannot be read (or there is no /proc). */
export function parentPid(pid: number): number | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
