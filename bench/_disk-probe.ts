/**
 * What one durable write costs on this machine's disk while a benchmark loads the
 * stack: a thread of its own writes one 8 kB page (a WAL page's size) into a
 * preallocated file and waits for fdatasync, at a steady rate, beside whatever else runs.
 * An ack that promises its event is on disk waits for at least one such flush (its
 * commit's), so the probe's tail is a floor under the ingress's that no change to the
 * API or to Postgres's settings can go below: it tells a slow disk path apart from slow
 * code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { percentile } from './report';

export interface DiskFlushes {
  /** How many write + fdatasync pairs the probe timed. */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface DiskProbe {
  /** Ends the probe, removes its file and gives what its flushes took. */
  stop(): Promise<DiskFlushes>;
}

// The thread sleeps on Atomics.wait (no event loop to run); the parent sets the shared
// flag to stop it. Writes rotate through a 16 MB file, allocated and synced first, as a
// WAL segment is, so a flush never has to extend the file.
const PROBE_THREAD = `
  const { workerData, parentPort } = require('node:worker_threads');
  const fs = require('node:fs');
  const { file, rate, stopFlag } = workerData;
  const flag = new Int32Array(stopFlag);
  const size = 16 * 1024 * 1024;
  const page = require('node:crypto').randomBytes(8192);
  const fd = fs.openSync(file, 'w+');
  fs.writeSync(fd, Buffer.alloc(size), 0, size, 0);
  fs.fsyncSync(fd);
  const times = [];
  const start = performance.now();
  for (let n = 0; Atomics.load(flag, 0) === 0; n++) {
    const wait = start + (n * 1000) / rate - performance.now();
    if (wait > 0 && Atomics.wait(flag, 0, 0, wait) !== 'timed-out') break;
    const t0 = performance.now();
    fs.writeSync(fd, page, 0, page.length, (n * page.length) % size);
    fs.fdatasyncSync(fd);
    times.push(performance.now() - t0);
  }
  fs.closeSync(fd);
  parentPort.postMessage(times);
`;

/** Starts flushing `rate` times a second into a file under the system's temporary folder (where the benchmarks' Postgres keeps its data). */
export function startDiskProbe(rate: number): DiskProbe {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wysera-bench-disk-'));
  const stopFlag = new SharedArrayBuffer(4);
  const thread = new Thread(PROBE_THREAD, { eval: true, workerData: { file: path.join(dir, 'probe'), rate, stopFlag } });
  const times = new Promise<number[]>((resolve, reject) => {
    thread.once('message', resolve);
    thread.once('error', reject);
  });
  return {
    async stop() {
      const flag = new Int32Array(stopFlag);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      try {
        const t = await times;
        return { count: t.length, p50Ms: percentile(t, 50), p99Ms: percentile(t, 99), maxMs: t.reduce((m, v) => Math.max(m, v), 0) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
