import { secondsInWords } from './durations';

/**
 * Whether a running sync is moving. A sync run stays "running" in the database for as
 * long as its workflow has not ended, whether or not anything works on it: with no
 * worker polling the task queue, or with every Stripe read failing and being retried,
 * the run looks the same as one reading pages. These figures tell them apart.
 */

/**
 * How long after a worker's last poll it still counts as polling. An idle worker's
 * long poll is held by Temporal for up to a minute (plus the client's margin) before
 * it asks again, and Temporal lists a task queue's pollers for five minutes after
 * their last poll, so a listed poller is not proof of a live one.
 */
export const WORKER_POLL_GAP_MS = 2 * 60_000;

/** A read of the sync that failed and waits for its next attempt. */
export interface SyncRetry {
  /** The attempt under way or due next (2 = the first retry). */
  attempt: number;
  /** The last failure's message, as the worker reported it. */
  error: string | null;
  /** When Temporal schedules the next attempt (null: under way now). */
  nextAttemptAt: string | null;
}

/** What Temporal says about the run's workflow and its task queue. */
export interface SyncWorkState {
  /** The workflow's status as Temporal has it: RUNNING while the run is under way; NOT_FOUND when Temporal has none. */
  workflowStatus: string;
  /** The latest poll of the task queue by a worker that Temporal still lists. */
  workerSeenAt: string | null;
  /** Whether that poll is recent enough to count the worker as there. */
  workerPolling: boolean;
  retrying: SyncRetry[];
}

export interface SyncLiveness {
  /** When the run last stored a page (its start, before the first). */
  lastProgressAt: string;
  /** Temporal's view, or why it could not be read (the page says so instead of guessing). */
  temporal: SyncWorkState | { error: string };
}

/** The newest of the pollers' last polls, and whether it counts as a worker there now. */
export function workerPresence(lastPolls: (Date | null)[], now: Date): Pick<SyncWorkState, 'workerSeenAt' | 'workerPolling'> {
  const times = lastPolls.filter((t): t is Date => t !== null).map((t) => t.getTime());
  if (!times.length) return { workerSeenAt: null, workerPolling: false };
  const newest = Math.max(...times);
  return { workerSeenAt: new Date(newest).toISOString(), workerPolling: now.getTime() - newest <= WORKER_POLL_GAP_MS };
}

/** A pending activity as Temporal describes it (only what liveness reads). */
export interface PendingRead {
  /** The activity's type: only `syncResource` reads Stripe. */
  activity: string;
  /** Waiting for its next attempt (`scheduled`) or running one (`started`). */
  state: 'scheduled' | 'started' | 'other';
  attempt: number;
  lastFailure: string | null;
  /** When its last failed attempt ended. */
  lastFailedAt: Date | null;
  nextAttemptAt: Date | null;
}

/**
 * The Stripe reads that are failing now: waiting to be tried again after a failure, or
 * tried again with no page stored by the sync since (by any of its lists: Temporal does
 * not say which list a read is, so a read failing again beside lists that progress shows
 * only while it waits for its next attempt). One read covers a whole list for
 * as long as it takes, so an attempt that failed once and then carried on storing pages
 * is not news; nor is a first attempt.
 */
export function failingReads(pending: PendingRead[], lastProgressAt: Date): SyncRetry[] {
  return pending
    .filter((p) => p.activity === 'syncResource' && p.lastFailure !== null)
    .filter((p) => p.state === 'scheduled' || p.lastFailedAt === null || p.lastFailedAt.getTime() >= lastProgressAt.getTime())
    .map((p) => ({ attempt: p.attempt, error: p.lastFailure, nextAttemptAt: p.nextAttemptAt?.toISOString() ?? null }));
}

/** The run's last sign of progress: its newest stored page (the times of resources with pages), or its start. */
export function lastProgress(startedAt: Date, pagesStoredAt: Date[]): string {
  return new Date(Math.max(startedAt.getTime(), ...pagesStoredAt.map((d) => d.getTime()))).toISOString();
}

/** Whether a workflow status says the workflow is over (NOT_FOUND: Temporal has none); a paused one is not. */
export function workflowHasEnded(status: string): boolean {
  return status !== 'RUNNING' && status !== 'PAUSED';
}

/** A workflow status as a sentence says it: TIMED_OUT -> "timed out". */
export const statusInWords = (status: string) => status.toLowerCase().replace(/_/g, ' ');

export type SyncWarningCode = 'temporal_unknown' | 'workflow_closed' | 'workflow_paused' | 'no_worker' | 'retrying';

const minuteUtc = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/**
 * What keeps a running sync from moving, in words for the Stripe page and the CLI's
 * watch: no worker polling for its work, reads failing and retried, or Temporal not
 * answering (then nothing is known about the other two).
 */
export function syncWarnings(liveness: SyncLiveness, now: Date): { code: SyncWarningCode; message: string }[] {
  const { temporal } = liveness;
  if ('error' in temporal) return [{ code: 'temporal_unknown', message: `${temporal.error}. Whether a worker runs this sync is not known.` }];
  if (temporal.workflowStatus === 'PAUSED') {
    return [{ code: 'workflow_paused', message: "This sync's workflow is paused in Temporal: it carries on once it is unpaused." }];
  }
  if (workflowHasEnded(temporal.workflowStatus)) {
    const ended = temporal.workflowStatus === 'NOT_FOUND' ? 'Temporal has no workflow for this sync' : `This sync's workflow has ended (${statusInWords(temporal.workflowStatus)})`;
    return [{ code: 'workflow_closed', message: `${ended}, but the run was never closed: nothing works on it any more. Starting a new sync closes it as failed.` }];
  }
  const out: { code: SyncWarningCode; message: string }[] = [];
  if (!temporal.workerPolling) {
    const last = temporal.workerSeenAt ? `No worker has asked for this sync's work since ${minuteUtc(temporal.workerSeenAt)}` : "No worker is asking for this sync's work";
    out.push({ code: 'no_worker', message: `${last}: it makes no progress until one runs (the worker process: node dist/workers/main.js, docker compose's worker service, or npm start on one machine). It then carries on where it stopped.` });
  }
  for (const retry of temporal.retrying) {
    const wait = retry.nextAttemptAt ? (Date.parse(retry.nextAttemptAt) - now.getTime()) / 1000 : null;
    const next = wait === null ? ', trying again now' : `, next try in ${secondsInWords(Math.max(0, wait))}`;
    const failed = retry.attempt - 1;
    out.push({ code: 'retrying', message: `A Stripe read failed ${failed === 1 ? 'once' : `${failed} times`} and is retried${next}: ${retry.error ?? 'no reason given'}` });
  }
  return out;
}
