/**
 * What one durable write costs on this machine while a benchmark loads the stack: a
 * thread of its own writes one 8 kB page (a WAL page's size) into a preallocated file
 * beside Postgres's data and waits for fdatasync, at a steady rate, beside whatever else
 * runs. A commit that makes its caller wait until it is on disk waits for such a flush
 * (its own, or the rest of one under way that covers it), so the probe's tail is a
 * rough floor under a durable ack's: it tells the cost of reaching the disk, with the
 * cores as busy as the load makes them, apart from what the code adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
  /** Ends the probe, removes its file and gives what its flushes took from `fromEpochMs` on (undefined: none timed then). */
  stop(fromEpochMs?: number): Promise<DiskFlushes | undefined>;
}

// Posts 'ready' once its 16 MB file is allocated and synced (as a WAL segment is, so a
// flush never extends the file), then flushes on schedule until the parent sets the
// shared flag; it sleeps on Atomics.wait, having no event loop to run. A slot missed
// behind a slow flush is skipped rather than caught up, so the rate stays what it was
// asked to be. Each time is posted with when it started (ms since the epoch).
const PROBE_THREAD = `
  const { workerData, parentPort } = require('node:worker_threads');
  const fs = require('node:fs');
  const { file, rate, stopFlag } = workerData;
  const flag = new Int32Array(stopFlag);
  const size = 16 * 1024 * 1024;
  const page = require('node:crypto').randomBytes(8192);
  const fd = fs.openSync(file, 'w+');
  const samples = [];
  try {
    fs.writeSync(fd, Buffer.alloc(size), 0, size, 0);
    fs.fsyncSync(fd);
    parentPort.postMessage('ready');
    const start = performance.now();
    for (let n = 0; Atomics.load(flag, 0) === 0; n++) {
      n = Math.max(n, Math.floor(((performance.now() - start) * rate) / 1000));
      const wait = start + (n * 1000) / rate - performance.now();
      if (wait > 0 && Atomics.wait(flag, 0, 0, wait) !== 'timed-out') break;
      const t0 = performance.now();
      fs.writeSync(fd, page, 0, page.length, (n * page.length) % size);
      fs.fdatasyncSync(fd);
      samples.push([performance.timeOrigin + t0, performance.now() - t0]);
    }
  } finally {
    fs.closeSync(fd);
  }
  parentPort.postMessage(samples);
`;

/**
 * Starts flushing `rate` times a second into a file of its own under `dir` (a folder on
 * the disk to measure, such as the one holding Postgres's data); resolves once the
 * probe's file is in place, so its allocation falls before the load it measures.
 */
export async function startDiskProbe(dir: string, rate: number): Promise<DiskProbe> {
  const own = mkdtempSync(path.join(dir, 'disk-probe-'));
  const remove = () => rmSync(own, { recursive: true, force: true });
  // An interrupted benchmark exits from its cleanup without stopping the probe.
  process.once('exit', remove);
  const stopFlag = new SharedArrayBuffer(4);
  const thread = new Thread(PROBE_THREAD, { eval: true, workerData: { file: path.join(own, 'probe'), rate, stopFlag } });
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  const samples = new Promise<[number, number][]>((resolve, reject) => {
    thread.on('message', (m: 'ready' | [number, number][]) => (m === 'ready' ? ready() : resolve(m)));
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the disk probe's thread exited (${code}) without its figures`)));
  });
  // Its failure is taken up by stop() (or by the wait below); until then it must not count as unhandled.
  samples.catch(() => undefined);
  const stop: DiskProbe['stop'] = async (fromEpochMs = 0) => {
    const flag = new Int32Array(stopFlag);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    try {
      const times = (await samples).filter(([at]) => at >= fromEpochMs).map(([, ms]) => ms);
      if (times.length === 0) return undefined;
      return { count: times.length, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: times.reduce((m, v) => Math.max(m, v), 0) };
    } finally {
      process.removeListener('exit', remove);
      remove();
    }
  };
  try {
    await Promise.race([started, samples]);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { stop };
}
