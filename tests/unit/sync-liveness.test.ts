import { describe, expect, it } from 'vitest';
import { failingReads, lastProgress, workerPresence, WORKER_POLL_GAP_MS } from '../../domain/sync-liveness';

const now = new Date('2026-11-29T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

describe('workerPresence', () => {
  it('counts a worker as polling up to the gap after its latest poll, not after', () => {
    expect(workerPresence([ago(WORKER_POLL_GAP_MS)], now)).toEqual({ workerSeenAt: ago(WORKER_POLL_GAP_MS).toISOString(), workerPolling: true });
    expect(workerPresence([ago(WORKER_POLL_GAP_MS + 1)], now).workerPolling).toBe(false);
  });

  it('takes the newest poll of several, and none when Temporal lists no time', () => {
    expect(workerPresence([ago(290_000), null, ago(5_000)], now)).toEqual({ workerSeenAt: ago(5_000).toISOString(), workerPolling: true });
    expect(workerPresence([null], now)).toEqual({ workerSeenAt: null, workerPolling: false });
    expect(workerPresence([], now)).toEqual({ workerSeenAt: null, workerPolling: false });
  });
});

describe('failingReads', () => {
  it('keeps reads that failed before, with their attempt, error and next try', () => {
    const next = new Date('2026-11-29T12:00:08Z');
    expect(
      failingReads([
        { attempt: 1, lastFailure: null, nextAttemptAt: null },
        { attempt: 3, lastFailure: 'An unknown error occurred', nextAttemptAt: next },
        { attempt: 2, lastFailure: null, nextAttemptAt: null },
      ]),
    ).toEqual([
      { attempt: 3, error: 'An unknown error occurred', nextAttemptAt: '2026-11-29T12:00:08.000Z' },
      { attempt: 2, error: null, nextAttemptAt: null },
    ]);
  });
});

describe('lastProgress', () => {
  it("is the newest stored page, or the run's start before any", () => {
    expect(lastProgress(ago(60_000), [])).toBe(ago(60_000).toISOString());
    expect(lastProgress(ago(60_000), [ago(30_000), ago(10_000), ago(50_000)])).toBe(ago(10_000).toISOString());
  });
});
