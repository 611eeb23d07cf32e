import pg from 'pg';
import type { Client } from '@temporalio/client';
import type { Knex } from '../db/knex';
import { completeInboxEvents, deferInboxEvent, INBOX_CHANNEL, pendingInboxEvents, type InboxEvent } from '../db/inbox';
import { recomputeCustomer } from '../activities/analytics';
import { applyEventToMirror } from './mirror-events';
import type { MirrorRefetch } from './mirror-refetch';
import { isSubscribedEventType, type SubscribedEventType } from '../domain/stripe-events';
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
  /** How many customers' event streams are delivered concurrently. */
  lanes?: number;
  /** Deadline of one Temporal call. */
  callTimeoutMs?: number;
  /** First retry delay after a failed delivery; doubles per attempt up to a minute. */
  retryBaseMs?: number;
  metrics?: Pick<Metrics, 'relayEvents' | 'relayLagSeconds' | 'relayRefetches'>;
  /** Reads an object from Stripe when an event alone cannot be trusted (see mirror-events.ts). */
  refetch?: MirrorRefetch;
}

/** Any number of workers may run a relay; the one holding this lock relays. */
const LEADER_LOCK_KEY = 0x57595352; // "WYSR"

/** Retry delay for an event whose delivery failed: `baseMs` doubling to 1 min. */
export function retryDelayMs(attempts: number, baseMs = 1000): number {
  return Math.min(60_000, baseMs * 2 ** Math.min(attempts, 6));
}

/**
 * Moves webhook events from the inbox to the customers' workflows. Events of one
 * customer are delivered strictly in arrival order (a failed one holds back the
 * ones behind it); different customers proceed in parallel. An event is marked
 * processed only after Temporal accepted it, so nothing is lost when Temporal or the
 * worker is down; a re-delivery after a crash is dropped by the workflow, which
 * remembers event ids.
 */
export class InboxRelay {
  private listener: pg.Client | undefined;
  private leader = false;
  private running = false;
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;

  constructor(private readonly opts: RelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loopDone;
    await this.dropListener();
  }

  private async loop(): Promise<void> {
    const { log, pollMs } = this.opts;
    while (this.running) {
      try {
        if (!this.listener) await this.connectListener();
        if (!this.leader) this.leader = await this.tryLead();
        const done = this.leader ? await this.relayBatch() : 0;
        if (done === 0) await this.sleep(pollMs);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'relay: database unavailable; retrying');
        await this.dropListener();
        await this.sleep(Math.max(pollMs, 1000));
      }
    }
  }

  /** One pass over the oldest pending events. Returns how many were completed. */
  private async relayBatch(): Promise<number> {
    const { db, batchSize = 1000, lanes = 16 } = this.opts;
    const events = await pendingInboxEvents(db, batchSize);
    if (events.length === 0) return 0;
    const streams = new Map<string, InboxEvent[]>();
    for (const e of events) {
      const key = `${e.workspaceId}/${e.customerId ?? ''}`;
      const stream = streams.get(key);
      if (stream) stream.push(e);
      else streams.set(key, [e]);
    }
    const queue = [...streams.values()];
    let completed = 0;
    const worker = async () => {
      for (let stream = queue.shift(); stream; stream = queue.shift()) completed += await this.relayStream(stream);
    };
    await Promise.all(Array.from({ length: Math.min(lanes, queue.length) }, worker));
    return completed;
  }

  /**
   * Delivers one customer's due events in order, all at once: the mirror writes, one
   * analytics recompute, one signal, one completion. A backlog therefore costs per
   * customer, not per event, and the relay catches up faster the further it falls
   * behind. If the batch fails, the events go one at a time so that a bad event
   * holds back only itself and the customer's events after it.
   */
  private async relayStream(stream: InboxEvent[]): Promise<number> {
    const now = Date.now();
    const firstNotDue = stream.findIndex((e) => e.nextAttemptAt.getTime() > now);
    const due = firstNotDue === -1 ? stream : stream.slice(0, firstNotDue);
    if (due.length === 0) return 0;
    if (due.length > 1) {
      try {
        await this.deliver(due);
        return due.length;
      } catch (err) {
        this.opts.log.info({ events: due.length, err: (err as Error).message }, 'relay: batch failed; retrying its events one at a time');
      }
    }
    let completed = 0;
    for (const e of due) {
      try {
        await this.deliver([e]);
        completed++;
      } catch (err) {
        await this.defer(e, err as Error);
        break;
      }
    }
    return completed;
  }

  /** Mirror, analytics, signal, completion for events of one customer, in inbox order. */
  private async deliver(events: InboxEvent[]): Promise<void> {
    const { db, log, metrics } = this.opts;
    const { workspaceId, customerId } = events[0]!;
    const outcomes = events.map((e) => (isSubscribedEventType(e.type) ? 'processed' : 'ignored'));
    const subscribed = events.filter((_, i) => outcomes[i] === 'processed');
    if (subscribed.length > 0) {
      // Mirror first: plays woken by the signal read the state the events brought.
      // Outside a transaction: an event in doubt waits on Stripe, and that wait must
      // not hold a transaction open. Each write is idempotent (newest state wins).
      for (const e of subscribed) {
        const { refetched } = await applyEventToMirror(db, workspaceId, e.type as SubscribedEventType, e.payload, this.opts.refetch);
        if (refetched) metrics?.relayRefetches.inc({ type: e.type });
      }
      if (customerId) {
        // Every event refreshes the customer's MRR and the aggregates it touches;
        // one recompute after the customer's last event gives the same result.
        await recomputeCustomer(db, workspaceId, customerId);
        await this.signal(workspaceId, customerId, subscribed);
      }
    }
    await completeInboxEvents(
      db,
      events.map((e, i) => ({ seq: e.seq, status: outcomes[i]! })),
    );
    const doneAt = Date.now();
    events.forEach((e, i) => {
      const outcome = outcomes[i]!;
      metrics?.relayEvents.inc({ type: e.type, outcome });
      metrics?.relayLagSeconds.observe((doneAt - e.receivedAt.getTime()) / 1000);
      log.debug({ seq: e.seq, eventId: e.eventId, type: e.type, outcome }, 'relay: event done');
    });
  }

  private async defer(e: InboxEvent, err: Error): Promise<void> {
    const { db, log, metrics } = this.opts;
    metrics?.relayEvents.inc({ type: e.type, outcome: 'deferred' });
    const delay = retryDelayMs(e.attempts, this.opts.retryBaseMs);
    log.warn({ seq: e.seq, eventId: e.eventId, attempts: e.attempts + 1, retryInMs: delay, err: err.message }, 'relay: delivery failed');
    await deferInboxEvent(db, e.seq, err.message, delay);
  }

  private async signal(workspaceId: string, customerId: string, events: InboxEvent[]): Promise<void> {
    const { client, taskQueue, callTimeoutMs = 10_000 } = this.opts;
    const signalArgs: StripeEventSignal[] = events.map((e) => ({
      eventId: e.eventId,
      type: e.type,
      stripeCreated: e.stripeCreated.toISOString(),
      objectId: e.objectId,
      inboxSeq: e.seq,
    }));
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
    const listener = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: 'wysera-relay' });
    listener.on('notification', () => this.wakeUp?.());
    listener.on('error', (err) => {
      this.opts.log.warn({ err: err.message }, 'relay: listener connection lost');
      void this.dropListener();
    });
    await listener.connect();
    await listener.query(`listen ${INBOX_CHANNEL}`);
    this.listener = listener;
  }

  private async tryLead(): Promise<boolean> {
    const res = await this.listener!.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [LEADER_LOCK_KEY]);
    const locked = res.rows[0]?.locked === true;
    if (locked) this.opts.log.info('relay: leading (this worker relays the inbox)');
    return locked;
  }

  private async dropListener(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.leader = false;
    if (listener) await listener.end().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
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
