import { describe, expect, it } from 'vitest';
import { failingReads, lastProgress, syncWarnings, workerPresence, WORKER_POLL_GAP_MS, type PendingRead } from '../../domain/sync-liveness';

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
  const progress = new Date('2026-11-29T11:59:00Z');
  const read = (over: Partial<PendingRead>): PendingRead => ({ activity: 'syncResource', state: 'started', attempt: 1, lastFailure: null, lastFailedAt: null, nextAttemptAt: null, ...over });

  it('keeps Stripe reads waiting to be tried again, and those tried again with no page stored since', () => {
    const next = new Date('2026-11-29T12:00:08Z');
    expect(
      failingReads(
        [
          read({}),
          read({ state: 'scheduled', attempt: 3, lastFailure: 'An unknown error occurred', lastFailedAt: ago(4_000), nextAttemptAt: next }),
          read({ attempt: 2, lastFailure: 'reading invoices: socket hang up', lastFailedAt: ago(30_000) }),
        ],
        progress,
      ),
    ).toEqual([
      { attempt: 3, error: 'An unknown error occurred', nextAttemptAt: '2026-11-29T12:00:08.000Z' },
      { attempt: 2, error: 'reading invoices: socket hang up', nextAttemptAt: null },
    ]);
  });

  it('drops a read that failed once and has stored pages since, and activities that read no Stripe list', () => {
    expect(
      failingReads(
        [
          read({ attempt: 2, lastFailure: 'reading charges: socket hang up', lastFailedAt: ago(600_000) }),
          read({ activity: 'completeSyncRun', state: 'scheduled', attempt: 2, lastFailure: 'connection refused', lastFailedAt: ago(1_000) }),
        ],
        progress,
      ),
    ).toEqual([]);
  });
});

describe('lastProgress', () => {
  it("is the newest stored page, or the run's start before any", () => {
    expect(lastProgress(ago(60_000), [])).toBe(ago(60_000).toISOString());
    expect(lastProgress(ago(60_000), [ago(30_000), ago(10_000), ago(50_000)])).toBe(ago(10_000).toISOString());
  });
});

describe('syncWarnings', () => {
  const lastProgressAt = ago(90_000).toISOString();
  const quiet = { workflowStatus: 'RUNNING', workerSeenAt: ago(5_000).toISOString(), workerPolling: true, retrying: [] };

  it('says nothing while a worker polls and no read fails', () => {
    expect(syncWarnings({ lastProgressAt, temporal: quiet }, now)).toEqual([]);
  });

  it('says no worker asks for the work, or since when none has', () => {
    const never = syncWarnings({ lastProgressAt, temporal: { ...quiet, workerSeenAt: null, workerPolling: false } }, now);
    expect(never.map((w) => w.code)).toEqual(['no_worker']);
    expect(never[0]!.message).toMatch(/^No worker is asking for this sync's work: it makes no progress until one runs \(the worker process: node dist\/workers\/main.js,/);
    const gone = syncWarnings({ lastProgressAt, temporal: { ...quiet, workerSeenAt: '2026-11-29T11:52:40.123Z', workerPolling: false } }, now);
    expect(gone[0]!.message).toMatch(/^No worker has asked for this sync's work since 2026-11-29 11:52 UTC: /);
  });

  it('gives each failing read its failures, next try and error', () => {
    const retrying = [
      { attempt: 2, error: 'An unknown error occurred', nextAttemptAt: new Date(now.getTime() + 4_000).toISOString() },
      { attempt: 5, error: null, nextAttemptAt: null },
    ];
    expect(syncWarnings({ lastProgressAt, temporal: { ...quiet, retrying } }, now).map((w) => w.message)).toEqual([
      'A Stripe read failed once and is retried, next try in 4 s: An unknown error occurred',
      'A Stripe read failed 4 times and is retried, trying again now: no reason given',
    ]);
  });

  it('says only that the run is orphaned when its workflow has ended or Temporal has none', () => {
    const closed = syncWarnings({ lastProgressAt, temporal: { ...quiet, workflowStatus: 'TERMINATED', workerPolling: false } }, now);
    expect(closed).toEqual([{ code: 'workflow_closed', message: "This sync's workflow has ended (terminated), but the run was never closed: nothing works on it any more. Starting a new sync closes it as failed." }]);
    expect(syncWarnings({ lastProgressAt, temporal: { ...quiet, workflowStatus: 'PAUSED' } }, now).map((w) => w.code)).toEqual(['workflow_paused']);
    expect(syncWarnings({ lastProgressAt, temporal: { ...quiet, workflowStatus: 'NOT_FOUND' } }, now)[0]!.message).toMatch(/^Temporal has no workflow for this sync, but the run was never closed/);
  });

  it('says only that nothing is known when Temporal could not be asked', () => {
    expect(syncWarnings({ lastProgressAt, temporal: { error: 'Temporal could not be asked about the sync: deadline exceeded' } }, now)).toEqual([
      { code: 'temporal_unknown', message: 'Temporal could not be asked about the sync: deadline exceeded. Whether a worker runs this sync is not known.' },
    ]);
  });
});
