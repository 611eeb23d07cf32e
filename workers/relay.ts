import pg from 'pg';
import type { Client } from '@temporalio/client';
import type { Knex } from '../db/knex';
import { completeInboxEvents, deferInboxEvent, INBOX_CHANNEL, invoicesWithFailedPayment, pendingInboxPass, setAsideInboxEvents, type InboxEvent } from '../db/inbox';
import { mirroredAccounts } from '../db/workspaces';
import { eventOrigin, foreignEventReason } from '../domain/event-ownership';
import { objectEndedAt } from '../domain/stripe-events';
import { subscriptionsWithUnpaidInvoice } from '../db/mirror';
import { recomputeCustomers } from '../activities/analytics';
import { applyEventsToMirror, parseReread, type MirrorEvent } from './mirror-events';
import type { MirrorRefetch } from './mirror-refetch';
import { groupBy } from '../domain/group-by';
import { customerKey, walkBackoffMs } from '../domain/relay-pass';
import { createBatcher } from '../platform/batcher';
import { createLimiter } from '../platform/limiter';
import { playInterest, type PlayInterest } from '../domain/play-routing';
import { changesMrrInputs, isMrrInput, isSubscribedEventType, REREAD_EVENT_TYPE } from '../domain/event-types';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import type { customerWorkflow } from '../workflows/customer';
import { customerWorkflowId } from '../workflows/ids';
import { stripeEventsSignal, type StripeEventSignal } from '../workflows/messages';
import { CUSTOMER_ID, PLAY, WORKSPACE_ID } from '../workflows/search-attributes';

export interface RelayOptions {
  db: Knex;
  /** Used for the LISTEN connection that also holds the relay's leadership lock. */
  databaseUrl: string;
  client: Client;
  taskQueue: string;
  log: Logger;
  /** Poll interval when no notification arrives (notifications can be missed on reconnect). */
  pollMs: number;
  /**
   * Events taken from the head of the inbox per pass; their customers' later pending
   * events come along (up to five times as many in all).
   */
  batchSize?: number;
  /**
   * Under load, a pass starts at least this long after the previous one started
   * (default 200 ms), so the events that arrive meanwhile go through together. A pass
   * costs about as much for a few events as for a hundred (a handful of statements
   * each), so back-to-back small passes spend several times the CPU per event. After a
   * pass that took `batchSize` events or more (a backlog) the next starts at once, and
   * so does the first pass after a quiet spell: this only adds delay while events keep
   * coming.
   */
  gatherMs?: number;
  /**
   * How many customers' event streams are mirrored concurrently when one at a time, and
   * how many whose pass failed are retried at once (default 16).
   */
  lanes?: number;
  /**
   * How many customers' signals may be under way at once (default 64). Up to sixteen
   * times as many wait for a lane without holding back the passes; beyond that a pass
   * waits (Temporal is far behind).
   */
  signalLanes?: number;
  /** Deadline of one Temporal call. */
  callTimeoutMs?: number;
  /** First retry delay after a failed delivery; doubles per attempt up to a minute. */
  retryBaseMs?: number;
  metrics?: Pick<Metrics, 'relayEvents' | 'relayLagSeconds' | 'relayRefetches' | 'relayStepSeconds' | 'relayPassEvents' | 'relayWalkedEvents'>;
  /** Reads an object from Stripe when an event alone cannot be trusted (see mirror-events.ts). */
  refetch?: MirrorRefetch;
  /**
   * How often the leader asks the connection holding its lock whether it still answers,
   * and how long it waits for the answer (default 5 s): see checkLead.
   */
  leaderCheckMs?: number;
}

const DEFAULT_BATCH_SIZE = 250;
const DEFAULT_GATHER_MS = 200;
const DEFAULT_LANES = 16;
const DEFAULT_LEADER_CHECK_MS = 5_000;
/**
 * Asked of Postgres for the lock's connection, so that a relay whose network path died
 * loses the lock within about 25 s and another relay can lead (Postgres's defaults,
 * the system's, would leave the inbox unrelayed for up to hours): probe a peer silent
 * for 10 s every 5 s and give it up after 3 unanswered probes; and since probes are
 * sent only while nothing sent waits for an acknowledgement (the inbox's notifications
 * do), give it up as well when what was sent stays unacknowledged for 25 s.
 */
const LOCK_CONNECTION_SETTINGS = { tcp_keepalives_idle: 10, tcp_keepalives_interval: 5, tcp_keepalives_count: 3, tcp_user_timeout: 25_000 } as const;

/** The leader's lock connection did not answer in time (checkLead): it steps down. */
class LeadershipLostError extends Error {}

/** Any number of workers may run a relay; the one holding this lock relays. */
export const LEADER_LOCK_KEY = 0x57595352; // "WYSR"

/** Retry delay for an event whose delivery failed: `baseMs` doubling to 1 min. */
export function retryDelayMs(attempts: number, baseMs = 1000): number {
  return Math.min(60_000, baseMs * 2 ** Math.min(attempts, 6));
}

/** A customer's events (`stream`), of which `forPlays` reach its workflow. */
interface LoudStream {
  stream: InboxEvent[];
  forPlays: InboxEvent[];
}

/** A customer's key, as pendingInboxEvents takes its `busy` ones. */
const streamKey = (e: InboxEvent) => customerKey(e.workspaceId, e.customerId);

/** The event as the mirror takes it: a subscribed Stripe event or a re-read; null for the types recorded and ignored. */
function mirrorEventOf(e: InboxEvent): MirrorEvent | null {
  if (isSubscribedEventType(e.type)) return { type: e.type, payload: e.payload };
  if (e.type === REREAD_EVENT_TYPE) return { type: REREAD_EVENT_TYPE, payload: e.payload };
  return null;
}

/** Whether the mirror takes the event (mirrorEventOf is not null), without building it: the relay asks for every event. */
const mirrors = (type: string) => isSubscribedEventType(type) || type === REREAD_EVENT_TYPE;

/** Whether the event may change its customer's MRR (a re-read whose payload is unreadable fails in the mirror first). */
function changesMrr(e: InboxEvent): boolean {
  if (isSubscribedEventType(e.type)) return changesMrrInputs(e.type);
  if (e.type !== REREAD_EVENT_TYPE) return false;
  const reread = parseReread(e.payload);
  return reread instanceof Error || isMrrInput(reread.object);
}

interface StreamFailure {
  /** One customer's due events, in inbox order. */
  stream: InboxEvent[];
  err: Error;
}

/**
 * The events grouped per customer (events without a customer: one group per
 * workspace), each group cut before its first event that is not due yet (on the
 * database's clock, InboxEvent.due): a deferred event holds back the customer's
 * events after it.
 */
function dueStreams(events: InboxEvent[]): InboxEvent[][] {
  return [...groupBy(events, streamKey).values()]
    .map((s) => {
      const firstNotDue = s.findIndex((e) => !e.due);
      return firstNotDue === -1 ? s : s.slice(0, firstNotDue);
    })
    .filter((s) => s.length > 0);
}

/**
 * Moves webhook events from the inbox into the mirror, the analytics and the
 * customers' workflows (those events a play acts on: domain/play-routing.ts).
 * Events of one customer are applied strictly in arrival order (a failed one holds
 * back the ones behind it); different customers proceed in parallel. An event is
 * marked processed only after all of that succeeded (Temporal accepted the signal),
 * so nothing is lost when Temporal or the worker is down; a re-delivery after a
 * crash rewrites the same mirror state and is dropped by the workflow, which
 * remembers event ids.
 */
export class InboxRelay {
  private listener: pg.Client | undefined;
  private leader = false;
  /** When the leader last found its lock's connection answering (checkLead; performance.now()). */
  private leadCheckedAt = 0;
  private running = false;
  private wakeUp: (() => void) | undefined;
  /** Something arrived or was released since the last read began: the next sleep ends at once. */
  private woken = false;
  /** No read before this time (walkBackoffMs). */
  private nextReadAt = 0;
  /** Ends a pause between passes early (stop() only; arrivals do not). */
  private endPause: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  /** Customers whose signal is under way, by stream key. */
  private readonly signalling = new Map<string, Promise<unknown>>();
  /** Customers whose events failed in a pass and are being retried one at a time (retryAside), by stream key. */
  private readonly retrying = new Map<string, Promise<void>>();
  /** Customers in a pass whose analytics and completion are under way, by stream key. */
  private readonly passing = new Set<string>();
  /** Those passes' remaining work (see startPass). */
  private readonly passTails = new Set<Promise<void>>();
  /**
   * Completes signalled customers' events: those whose signals return while one
   * completion is under way go together in the next (one statement, not one each).
   */
  private readonly completeSignalled = createBatcher((streams: InboxEvent[][]) => this.complete(streams));

  /** Runs a signal when one of the `signalLanes` is free. */
  private readonly inSignalLane: <T>(task: () => Promise<T>) => Promise<T>;
  /** Runs a failed stream's retry when one of the `lanes` is free. */
  private readonly inRetryLane: <T>(task: () => Promise<T>) => Promise<T>;

  constructor(private readonly opts: RelayOptions) {
    this.inSignalLane = createLimiter(opts.signalLanes ?? 64);
    this.inRetryLane = createLimiter(opts.lanes ?? DEFAULT_LANES);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    this.endPause?.();
    await this.loopDone;
    await this.settle();
    await this.dropListener();
  }

  private async loop(): Promise<void> {
    const { log, pollMs, batchSize = DEFAULT_BATCH_SIZE, gatherMs = DEFAULT_GATHER_MS } = this.opts;
    while (this.running) {
      try {
        if (!this.listener) await this.connectListener();
        if (!this.leader) this.leader = await this.tryLead();
        else await this.checkLead();
        // What arrives or is released from here on, the coming read may not see.
        this.woken = false;
        const startedAt = Date.now();
        const done = this.leader ? await this.startPass() : 0;
        if (!this.running) break;
        // After a pass that was not full, the events arriving meanwhile gather (gatherMs);
        // after a read spent walking events it could not take, the relay waits too.
        const gatherUntil = done > 0 && done < batchSize ? startedAt + gatherMs : 0;
        await this.pause(Math.max(gatherUntil, this.nextReadAt) - Date.now());
        // Arrivals are the leader's business: a relay that does not lead only tries the
        // lock again each poll (woken by every one, it would try hundreds of times a second).
        if (done === 0) await (this.leader ? this.sleep(pollMs) : this.pause(pollMs));
      } catch (err) {
        if (err instanceof LeadershipLostError) log.warn({ err: err.message }, 'relay: stepping down');
        else log.warn({ err: (err as Error).message }, 'relay: database unavailable; retrying');
        await this.dropListener();
        // Not cut short by arrivals: the database is what the relay waits for.
        await this.pause(Math.max(pollMs, 1000));
      }
    }
  }

  /**
   * Starts a pass over the oldest pending events and returns how many it took on once
   * their mirror writes are done; the pass's analytics, completion and signals go on in
   * the background, so the next pass reads and mirrors while this one recomputes (its
   * customers are left out of the next passes' heads until it is done: one customer's
   * events never run in two passes at once). At most two passes overlap. Customers
   * whose events a play acts on are signalled in the background too (and left out the
   * same way), `signalLanes` at a time, the others waiting for a lane: a slow signal, or
   * Temporal falling behind, holds back only those customers' events, and the passes go
   * on with everyone else.
   */
  private async startPass(): Promise<number> {
    const { db, log, batchSize = DEFAULT_BATCH_SIZE } = this.opts;
    while (this.passTails.size >= 2) await Promise.race(this.passTails);
    const readAt = Date.now();
    const { events: read, walked, blocked } = await pendingInboxPass(db, batchSize, batchSize * 5, [...this.signalling.keys(), ...this.retrying.keys(), ...this.passing]);
    const readMs = Date.now() - readAt;
    const { events, setAside } = await this.setAsideForeign(read);
    const streams = dueStreams(events);
    const taken = streams.reduce((n, s) => n + s.length, 0);
    this.nextReadAt = Date.now() + walkBackoffMs(readMs, walked, blocked, batchSize * 5);
    this.opts.metrics?.relayWalkedEvents.inc(walked);
    // Reads that found nothing apart: an idle relay's polls would drown the passes' figures.
    this.opts.metrics?.relayStepSeconds.observe({ step: taken + setAside > 0 ? 'read' : 'empty_read' }, readMs / 1000);
    // Events set aside count as taken: more may be waiting behind them.
    if (taken === 0) return setAside;
    this.opts.metrics?.relayPassEvents.observe(taken);
    const keys = streams.map((s) => streamKey(s[0]!));
    for (const k of keys) this.passing.add(k);
    const failures: StreamFailure[] = [];
    let mirrored: InboxEvent[][];
    try {
      mirrored = await this.step('mirror', () => this.mirror(streams, failures));
    } catch (err) {
      for (const k of keys) this.passing.delete(k);
      throw err;
    }
    const tail: Promise<void> = this.finishPass(mirrored, failures)
      // Events whose pass failed stay pending; a later pass takes them again.
      .catch((err: Error) => log.warn({ err: err.message }, 'relay: pass failed; its events stay pending'))
      .finally(() => {
        for (const k of keys) this.passing.delete(k);
        this.passTails.delete(tail);
        // Those customers' later events may be waiting for this pass.
        this.wake();
      });
    this.passTails.add(tail);
    return taken + setAside;
  }

  /**
   * Sets aside the events that are not their workspace's (another account's or mode's:
   * domain/event-ownership.ts), marked ignored with the reason in one statement, and
   * returns the others. Re-reads are the relay's own and are not checked.
   */
  private async setAsideForeign(read: InboxEvent[]): Promise<{ events: InboxEvent[]; setAside: number }> {
    const { db, log, metrics } = this.opts;
    if (read.length === 0) return { events: read, setAside: 0 };
    const accounts = await mirroredAccounts(db, [...new Set(read.map((e) => e.workspaceId))]);
    const foreign: { e: InboxEvent; reason: string }[] = [];
    const events = read.filter((e) => {
      const account = accounts.get(e.workspaceId);
      const origin = e.type === REREAD_EVENT_TYPE ? null : eventOrigin(e.payload);
      const reason = account && origin ? foreignEventReason(origin, account) : null;
      if (reason !== null) foreign.push({ e, reason });
      return reason === null;
    });
    if (foreign.length === 0) return { events, setAside: 0 };
    await setAsideInboxEvents(db, foreign.map(({ e, reason }) => ({ seq: e.seq, reason })));
    for (const { e } of foreign) metrics?.relayEvents.inc({ type: e.type, outcome: 'foreign' });
    const first = foreign[0]!;
    log.warn({ events: foreign.length, workspaceId: first.e.workspaceId, eventId: first.e.eventId, reason: first.reason }, 'relay: events not applied: not their workspace\'s account or mode');
    return { events, setAside: foreign.length };
  }

  /** A pass after its mirror writes: analytics, completion, signals, and its failures' retries (retryAside). */
  private async finishPass(mirrored: InboxEvent[][], failures: StreamFailure[]): Promise<void> {
    for (const loud of await this.recomputeAndCompleteQuiet(mirrored, failures)) {
      await this.signalQueueRoom();
      const key = streamKey(loud.stream[0]!);
      // A signal still waiting for its lane when the relay stops is left for the next
      // relay (its events stay pending), so stop() never waits out a queue of them.
      // So is one whose relay has stepped down: the next leader signals it.
      const task = this.inSignalLane(async () => (this.running && this.leader ? this.signalAndComplete(loud) : undefined))
        .catch((err: Error) => this.deliverOneByOne(loud.stream, err))
        .catch((err: Error) => this.opts.log.warn({ err: err.message }, 'relay: delivery failed; the events stay pending'))
        .finally(() => {
          this.signalling.delete(key);
          // The customer's later events may be waiting for this one.
          this.wake();
        });
      this.signalling.set(key, task);
    }
    for (const { stream, err } of failures) this.retryAside(stream, err);
  }

  /**
   * Retries a customer's stream that failed in a pass, one event at a time
   * (deliverOneByOne), beside the passes rather than in one: a retry may wait on Stripe
   * for as long as its client's timeouts allow, and a pass's failures retried in turn
   * inside it would hold that pass (and, two such passes, every customer) for the sum
   * of those waits. The customer stays busy until its retry ends, so its later events
   * keep their order. Left pending for the next leader when this relay stops or steps
   * down before the retry's lane is free.
   */
  private retryAside(stream: InboxEvent[], err: Error): void {
    const key = streamKey(stream[0]!);
    const task = this.inRetryLane(async () => (this.running && this.leader ? this.deliverOneByOne(stream, err) : undefined))
      .catch((e: Error) => this.opts.log.warn({ err: e.message }, 'relay: retry failed; the events stay pending'))
      .finally(() => {
        this.retrying.delete(key);
        this.wake();
      });
    this.retrying.set(key, task);
  }

  /** Runs one step of the relay's work, timed in the step metric (failed ones too: their time was spent). */
  private async step<T>(step: 'mirror' | 'analytics' | 'signal', work: () => Promise<T>): Promise<T> {
    const end = this.opts.metrics?.relayStepSeconds.startTimer({ step });
    try {
      return await work();
    } finally {
      end?.();
    }
  }

  /** Waits for the passes, and the signals and retries under way. */
  private async settle(): Promise<void> {
    await Promise.all(this.passTails);
    await Promise.all([...this.signalling.values(), ...this.retrying.values()]);
  }

  /** Waits until fewer than sixteen times `signalLanes` customers' signals are waiting or under way. */
  private async signalQueueRoom(): Promise<void> {
    const limit = (this.opts.signalLanes ?? 64) * 16;
    while (this.signalling.size >= limit) await Promise.race(this.signalling.values());
  }

  /**
   * Delivers one event on its own and waits for all of it: the steps of
   * applyAndCompleteQuiet, then its signal if a play acts on it.
   * @returns why it failed (it is still pending), or undefined when it is done.
   */
  private async deliverOne(e: InboxEvent): Promise<Error | undefined> {
    const failures: StreamFailure[] = [];
    const [loud] = await this.applyAndCompleteQuiet([[e]], failures);
    if (!loud) return failures[0]?.err;
    try {
      await this.signalAndComplete(loud);
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  /**
   * The steps every event takes, for many customers together: the mirror writes, one
   * analytics recompute per workspace for all the customers, and one completion for
   * the customers none of whose events a play acts on. A backlog therefore costs per
   * customer, not per event, and a pass costs a handful of statements.
   * @returns the customers whose events still need their signal, with those events.
   */
  private async applyAndCompleteQuiet(streams: InboxEvent[][], failures: StreamFailure[]): Promise<LoudStream[]> {
    return this.recomputeAndCompleteQuiet(await this.step('mirror', () => this.mirror(streams, failures)), failures);
  }

  /** applyAndCompleteQuiet after the mirror writes. */
  private async recomputeAndCompleteQuiet(mirrored: InboxEvent[][], failures: StreamFailure[]): Promise<LoudStream[]> {
    const recomputed = await this.step('analytics', () => this.recompute(mirrored, failures));
    const forPlays = await this.eventsForPlays(recomputed);
    const loud = recomputed.filter((s) => forPlays.get(s)!.length > 0).map((stream) => ({ stream, forPlays: forPlays.get(stream)! }));
    await this.complete(recomputed.filter((s) => forPlays.get(s)!.length === 0));
    return loud;
  }

  /** One signal with the customer's events for its plays, then the whole stream is done. */
  private async signalAndComplete({ stream, forPlays }: LoudStream): Promise<void> {
    await this.step('signal', () => this.signal(forPlays));
    await this.completeSignalled(stream);
  }

  /** Marks events done (one statement) and counts them. */
  private async complete(streams: InboxEvent[][]): Promise<void> {
    const { db, metrics } = this.opts;
    const done = streams.flat().map((e) => ({ e, status: mirrors(e.type) ? ('processed' as const) : ('ignored' as const) }));
    await completeInboxEvents(
      db,
      done.map(({ e, status }) => ({ seq: e.seq, status })),
    );
    const doneAt = Date.now();
    for (const { e, status } of done) {
      metrics?.relayEvents.inc({ type: e.type, outcome: status });
      metrics?.relayLagSeconds.observe((doneAt - e.waitingSince.getTime()) / 1000);
    }
  }

  /**
   * After a failed delivery: a customer's events one at a time, so that a bad event
   * holds back only itself and the customer's events after it (it is deferred).
   */
  private async deliverOneByOne(stream: InboxEvent[], firstErr: Error): Promise<void> {
    if (stream.length > 1) this.opts.log.info({ events: stream.length, err: firstErr.message }, 'relay: batch failed; retrying its events one at a time');
    for (const e of stream) {
      // A relay stopping or stepping down leaves the rest to the next leader.
      if (!this.running || !this.leader) return;
      const err = stream.length === 1 ? firstErr : await this.deliverOne(e);
      if (err) {
        await this.defer(e, err);
        return;
      }
    }
  }

  /**
   * The mirror first: the analytics and the plays read the state the events brought.
   * All of a workspace's events in one go; a customer whose event in doubt Stripe
   * could not settle fails alone, and if the whole write fails, each customer's events
   * go on their own, so a bad event fails only its customer's stream. Outside a
   * transaction: an event in doubt waits on Stripe, and that wait must not hold a
   * transaction open. Each write is idempotent (newest state wins).
   */
  private async mirror(streams: InboxEvent[][], failures: StreamFailure[]): Promise<InboxEvent[][]> {
    /** Applies the streams' events; returns the streams an event of which failed alone (Stripe could not settle it, or a re-read failed). */
    const apply = async (group: InboxEvent[][]): Promise<Map<InboxEvent[], Error>> => {
      const events = group.flatMap((stream) => stream.flatMap((e) => {
        const m = mirrorEventOf(e);
        return m ? [{ e, m, stream }] : [];
      }));
      const failed = new Map<InboxEvent[], Error>();
      if (events.length === 0) return failed;
      const results = await applyEventsToMirror(
        this.opts.db,
        events[0]!.e.workspaceId,
        events.map(({ m }) => m),
        this.opts.refetch,
      );
      results.forEach((r, i) => {
        if (r.refetched) this.opts.metrics?.relayRefetches.inc({ type: events[i]!.e.type });
        if (r.error) failed.set(events[i]!.stream, r.error);
      });
      return failed;
    };
    const ok: InboxEvent[][] = [];
    for (const group of groupBy(streams, (s) => s[0]!.workspaceId).values()) {
      let failed: Map<InboxEvent[], Error>;
      try {
        failed = await apply(group);
      } catch {
        // Bad data or a failing write: each customer on its own, so only the bad one fails.
        ok.push(...(await this.inLanes(group, failures, async (stream) => {
          const [err] = (await apply([stream])).values();
          if (err) throw err;
        })));
        continue;
      }
      for (const stream of group) {
        const err = failed.get(stream);
        if (err) failures.push({ stream, err });
        else ok.push(stream);
      }
    }
    return ok;
  }


  /**
   * Every event about an MRR input (not a refund) refreshes its customer's MRR and the
   * aggregates it touches; one recompute after a customer's last event gives the same
   * result, and one per workspace for all its customers costs a constant number of
   * statements. If that fails, each customer is recomputed on its own, so a bad
   * customer fails only its own stream.
   */
  private async recompute(streams: InboxEvent[][], failures: StreamFailure[]): Promise<InboxEvent[][]> {
    const customersOf = (group: InboxEvent[][]) =>
      group.filter((s) => s[0]!.customerId && s.some(changesMrr)).map((s) => s[0]!.customerId!);
    const ok: InboxEvent[][] = [];
    for (const [workspaceId, group] of groupBy(streams, (s) => s[0]!.workspaceId)) {
      try {
        await recomputeCustomers(this.opts.db, workspaceId, customersOf(group));
        ok.push(...group);
      } catch {
        // One customer's data may be at fault: each on its own, so only that one fails.
        ok.push(...(await this.inLanes(group, failures, (stream) => recomputeCustomers(this.opts.db, workspaceId, customersOf([stream])).then(() => undefined))));
      }
    }
    return ok;
  }


  /** Each customer's events that a play acts on (domain/play-routing.ts). */
  private async eventsForPlays(streams: InboxEvent[][]): Promise<Map<InboxEvent[], InboxEvent[]>> {
    const events = streams.flat();
    // Of the objects whose events matter to a play only in some state, those in it, by
    // workspace: one statement per condition and workspace (the mirror is written already).
    const [failedPayment, unpaidInvoice] = await Promise.all([
      this.objectsWhere(events, 'after_failed_payment', (db, workspaceId, es) => invoicesWithFailedPayment(db, workspaceId, es.map((e) => e.objectId))),
      this.objectsWhere(events, 'while_invoice_unpaid', (db, workspaceId, es) =>
        subscriptionsWithUnpaidInvoice(db, workspaceId, es.map((e) => ({ customerId: e.customerId, subscriptionId: e.objectId }))),
      ),
    ]);
    const matters = (e: InboxEvent): boolean => {
      if (!e.customerId) return false;
      switch (playInterest(e.type)) {
        case 'always':
          return true;
        case 'after_failed_payment':
          return e.objectId !== null && failedPayment.get(e.workspaceId)?.has(e.objectId) === true;
        case 'while_invoice_unpaid':
          return e.objectId !== null && unpaidInvoice.get(e.workspaceId)?.has(e.objectId) === true;
        case 'never':
          return false;
      }
    };
    return new Map(streams.map((s) => [s, s.filter(matters)] as const));
  }

  /** Of the objects of `events` whose type has `interest`, those `find` answers for, by workspace. */
  private async objectsWhere(
    events: InboxEvent[],
    interest: Exclude<PlayInterest, 'always' | 'never'>,
    find: (db: Knex, workspaceId: string, events: { customerId: string; objectId: string }[]) => Promise<Set<string>>,
  ): Promise<Map<string, Set<string>>> {
    const byWorkspace = groupBy(
      events.filter((e) => e.customerId && e.objectId && playInterest(e.type) === interest),
      (e) => e.workspaceId,
    );
    const found = new Map<string, Set<string>>();
    for (const [workspaceId, es] of byWorkspace) {
      found.set(workspaceId, await find(this.opts.db, workspaceId, es.map((e) => ({ customerId: e.customerId!, objectId: e.objectId! }))));
    }
    return found;
  }

  /** Runs `fn` for each stream, `lanes` at a time; returns those that succeeded, in order. */
  private async inLanes(streams: InboxEvent[][], failures: StreamFailure[], fn: (stream: InboxEvent[]) => Promise<void>): Promise<InboxEvent[][]> {
    const succeeded = new Array<boolean>(streams.length).fill(false);
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < streams.length; i = next++) {
        try {
          await fn(streams[i]!);
          succeeded[i] = true;
        } catch (err) {
          failures.push({ stream: streams[i]!, err: err as Error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.lanes ?? DEFAULT_LANES, streams.length) }, lane));
    return streams.filter((_, i) => succeeded[i]);
  }

  private async defer(e: InboxEvent, err: Error): Promise<void> {
    const { db, log, metrics } = this.opts;
    metrics?.relayEvents.inc({ type: e.type, outcome: 'deferred' });
    const delay = retryDelayMs(e.attempts, this.opts.retryBaseMs);
    log.warn({ seq: e.seq, eventId: e.eventId, attempts: e.attempts + 1, retryInMs: delay, err: err.message }, 'relay: delivery failed');
    await deferInboxEvent(db, e.seq, err.message, delay);
  }

  /** One signal with a customer's events for its plays, starting its workflow if needed. */
  private async signal(events: InboxEvent[]): Promise<void> {
    const { client, taskQueue, callTimeoutMs = 10_000 } = this.opts;
    const { workspaceId, customerId } = events[0]! as InboxEvent & { customerId: string };
    const signalArgs: StripeEventSignal[] = events.map((e) => {
      // A subscription's end reaches its invoices' dunnings with its time: a final invoice created as it ended goes on.
      const endedAt = e.type === 'customer.subscription.deleted' ? objectEndedAt(e.payload) : undefined;
      return {
        eventId: e.eventId,
        type: e.type,
        stripeCreated: e.stripeCreated.toISOString(),
        objectId: e.objectId,
        inboxSeq: e.seq,
        ...(endedAt ? { subscriptionEndedAt: endedAt } : {}),
      };
    });
    await client.connection.withDeadline(Date.now() + callTimeoutMs, () =>
      client.workflow.signalWithStart<typeof customerWorkflow, [StripeEventSignal[]]>('customerWorkflow', {
        workflowId: customerWorkflowId(workspaceId, customerId),
        taskQueue,
        args: [{ workspaceId, customerId }],
        signal: stripeEventsSignal,
        signalArgs: [signalArgs],
        typedSearchAttributes: [
          { key: WORKSPACE_ID, value: workspaceId },
          { key: CUSTOMER_ID, value: customerId },
          { key: PLAY, value: 'customer' },
        ],
      }),
    );
  }

  private async connectListener(): Promise<void> {
    const checkMs = this.leaderCheckMs();
    const listener = new pg.Client({
      connectionString: this.opts.databaseUrl,
      application_name: 'wysera-relay',
      // A path that dies without a reset must not leave a connect or a query waiting for good.
      connectionTimeoutMillis: Math.max(checkMs, 5_000),
      query_timeout: checkMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: LOCK_CONNECTION_SETTINGS.tcp_keepalives_idle * 1000,
    });
    listener.on('notification', () => this.wake());
    listener.on('error', (err) => {
      this.opts.log.warn({ err: err.message }, 'relay: listener connection lost');
      // A connection already given up may fail later; only the current one is dropped.
      if (this.listener === listener) void this.dropListener();
    });
    try {
      await listener.connect();
      const settings = Object.entries(LOCK_CONNECTION_SETTINGS);
      await listener.query(`select ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`, settings.flat().map(String));
      await listener.query(`listen ${INBOX_CHANNEL}`);
    } catch (err) {
      listener.connection.stream.destroy();
      void listener.end().catch(() => undefined);
      throw err;
    }
    this.listener = listener;
  }

  private leaderCheckMs(): number {
    return this.opts.leaderCheckMs ?? DEFAULT_LEADER_CHECK_MS;
  }

  private async tryLead(): Promise<boolean> {
    const res = await this.listener!.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [LEADER_LOCK_KEY]);
    const locked = res.rows[0]?.locked === true;
    if (locked) {
      this.leadCheckedAt = performance.now();
      this.opts.log.info('relay: leading (this worker relays the inbox)');
    }
    return locked;
  }

  /**
   * The lock lives with the listener connection, which the leader otherwise only hears
   * notifications on. A network path that died without a reset leaves it quiet, not
   * failed: Postgres frees the lock once it gives up on the peer (LOCK_CONNECTION_SETTINGS), and
   * another relay may lead, while this one would go on relaying beside it. So every
   * `leaderCheckMs` the leader asks the connection for an answer, and steps down (its
   * queued signals left for the next leader) when none comes in that time.
   */
  private async checkLead(): Promise<void> {
    if (performance.now() - this.leadCheckedAt < this.leaderCheckMs()) return;
    try {
      await this.listener!.query('select 1');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new LeadershipLostError(`the connection holding the leadership lock did not answer (${why})`, { cause: err });
    }
    this.leadCheckedAt = performance.now();
  }

  private async dropListener(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.leader = false;
    // Passes and signals under way finish first: the leadership lock goes with the
    // listener, and another relay must not take on the same customers while they run.
    await this.settle();
    if (!listener) return;
    // After a failed check pg closes the socket itself; an idle connection on a dead path
    // (dropped for a pool error, say) never confirms its end: after a second its socket is closed.
    const ended = await Promise.race([listener.end().then(() => true, () => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref())]);
    if (!ended) listener.connection.stream.destroy();
  }

  /** Waits `ms` whatever arrives meanwhile (see gatherMs); only stop() ends it early. */
  private pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endPause = done;
    });
  }

  /** Ends the relay's sleep, or the next one if it is not sleeping. */
  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Waits `ms`, or until something arrives or is released (wake); at once if that happened since the last read began. */
  private sleep(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
