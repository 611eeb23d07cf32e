import { readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * CPU priority per thread. On Linux a thread's nice value is its own (setpriority
 * takes a thread id), and a thread starts with its creator's. That lets one process
 * keep a latency-bound thread at its priority while its bulk work yields: the worker
 * runs its inbox relay at the process's priority and lowers the rest (the Temporal
 * SDK's threads, which run the plays).
 */

/** The calling thread's kernel id, or undefined where threads have no /proc entry (not Linux). */
export function currentThreadId(): number | undefined {
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** The kernel ids of this process's threads, or undefined where /proc cannot tell (not Linux). */
export function processThreadIds(): number[] | undefined {
  try {
    return readdirSync('/proc/self/task').map(Number).filter((tid) => Number.isInteger(tid) && tid > 0);
  } catch {
    return undefined;
  }
}

/** Highest nice value, the lowest priority. */
const LOWEST = 19;

/**
 * Lowers every thread of this process except `keep` by `steps` nice values (never past
 * 19), the calling thread included unless kept, so threads those start later begin
 * lowered too. Lowering needs no privilege. A thread that ends meanwhile is skipped.
 * @returns how many threads were lowered (one already at 19 is not), or undefined
 * where this cannot be done per thread (not Linux): then nothing is changed.
 */
export function lowerOtherThreads(keep: readonly number[], steps: number): number | undefined {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`steps must be a whole number ≥ 0, got ${steps}`);
  const tids = processThreadIds();
  if (tids === undefined || currentThreadId() === undefined) return undefined;
  let lowered = 0;
  for (const tid of tids) {
    if (keep.includes(tid)) continue;
    try {
      const nice = getPriority(tid);
      const target = Math.min(LOWEST, nice + steps);
      if (target === nice) continue;
      setPriority(tid, target);
      lowered++;
    } catch (err) {
      // The thread ended between the listing and now.
      if ((err as { info?: { code?: unknown } }).info?.code !== 'ESRCH') throw err;
    }
  }
  return lowered;
}
