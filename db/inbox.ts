import { deleteInBatches } from './batched-delete';
import { foreignEventReason, SET_ASIDE_PREFIX, type MirroredAccount } from '../domain/event-ownership';
import { invoiceRereadEventId, objectOf, REREAD_EVENT_TYPE, rereadEventId, SUBSCRIBED_EVENT_TYPES, syncRereadEventId, type MirroredObject, type RereadNotice, type RereadPayload } from '../domain/event-types';
import type { TypeActivity } from '../domain/webhook-health';
import { PassPicker } from '../domain/relay-pass';
import { inTransaction, runPrepared, type Db, type Knex, type PreparedStatement } from './knex';

/** Postgres channel the ingress notifies on, so the relay wakes without polling. */
export const INBOX_CHANNEL = 'wysera_inbox';

export interface InboxEventInput {
  workspaceId: string;
  eventId: string;
  type: string;
  customerId: string | null;
  objectId: string | null;
  stripeCreated: Date;
  livemode: boolean;
  /** The verified event, exactly as Stripe sent it. */
  payload: unknown;
}

/** A stored event as the relay sees it. */
export interface InboxEvent extends Omit<InboxEventInput, 'livemode'> {
  seq: number;
  receivedAt: Date;
  /** Since when it waits for the relay: its arrival, or an owner's re-queue of it after (reapplySetAsideEvents). */
  waitingSince: Date;
  attempts: number;
  /**
   * Whether it may go now (its next attempt is not in the future), on the database's
   * clock at the read: a relay host whose clock lags the database's would otherwise
   * hold back each new or retried event by the difference.
   */
  due: boolean;
}

interface InboxRow {
  seq: number;
  workspace_id: string;
  event_id: string;
  type: string;
  customer_id: string | null;
  object_id: string | null;
  stripe_created: Date;
  attempts: number;
  due: boolean;
  received_at: Date;
  waiting_since: Date;
  payload: unknown;
  status: InboxStatus;
}

export type InboxStatus = 'pending' | 'processed' | 'ignored';

/*
 * The relay delivers a customer's events in seq order, and reads only what has
 * committed. Two inserts running at once can commit in the other order than they took
 * their seqs: a read between the commits would take the customer's later event and
 * deliver the earlier one after it. So an insert first locks each customer it writes
 * to, until it commits: a customer's seqs are then taken in the order its events
 * commit. Transaction-scoped advisory locks in the two-key space of their own (no
 * single-key lock, such as the relay's leader lock, can be one of them), taken in key
 * order so that two inserts sharing customers wait and never deadlock: so a transaction
 * takes them in one statement, once (a second statement taking more could cross another
 * transaction's). Events without a customer have no order to keep. An insert waits only
 * for a transaction holding one of its customers' keys (or a key its hash shares), until
 * that transaction ends.
 */
const STREAM_LOCK_CLASS = 0x57494e42;

/**
 * A condition that holds once the statement has locked the customers of `pairs` (SQL
 * giving rows of workspace `w` and customer `c`). Uncorrelated, so Postgres evaluates
 * it once before the statement's first row, and so before any row takes its seq.
 */
const streamsLocked = (pairs: string) =>
  `(select count(*) from (select pg_advisory_xact_lock(${STREAM_LOCK_CLASS}, k)
       from (select distinct hashtext(w || '/' || c) as k from ${pairs} where c is not null) keys order by k) locked) >= 0`;

const INSERT_EVENTS: PreparedStatement = {
  name: 'wysera_insert_inbox_events',
  text: `with ins as (
           insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload)
           select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::boolean[], $8::json[])
            where ${streamsLocked('unnest($1::text[], $4::text[]) as s (w, c)')}
           on conflict (workspace_id, event_id) do nothing
           returning workspace_id, event_id
         )
         select workspace_id, event_id, pg_notify($9, '') from ins`,
};

/** An event for the inbox and its payload's JSON text (the ingress has the verified request body). */
export interface InboxEventToStore {
  event: InboxEventInput;
  /** Postgres parses it into the json column, so the event is not serialized a second time. */
  payloadText: string;
}

/**
 * Records events in one statement (one commit, one notification); an event id already
 * stored, or met earlier in the same call, is a no-op. The notification is delivered
 * when the statement commits. The ingress runs it for every Stripe event, so it is a
 * prepared statement run on the pool directly.
 * @returns for each event in order, whether this call stored it (false for a duplicate).
 */
export async function insertInboxEvents(db: Db, events: readonly InboxEventToStore[]): Promise<boolean[]> {
  const column = <V>(pick: (e: InboxEventInput) => V) => events.map(({ event }) => pick(event));
  const rows = await runPrepared<{ workspace_id: string; event_id: string }>(db, INSERT_EVENTS, [
    column((e) => e.workspaceId),
    column((e) => e.eventId),
    column((e) => e.type),
    column((e) => e.customerId),
    column((e) => e.objectId),
    column((e) => e.stripeCreated),
    column((e) => e.livemode),
    events.map((e) => e.payloadText),
    INBOX_CHANNEL,
  ]);
  const key = (workspaceId: string, eventId: string) => `${workspaceId}\u0000${eventId}`;
  // Each inserted key is claimed by the first of the call's events that carries it.
  const inserted = new Set(rows.map((r) => key(r.workspace_id, r.event_id)));
  return events.map(({ event }) => inserted.delete(key(event.workspaceId, event.eventId)));
}

/** Records one event (insertInboxEvents for a single event). */
export async function insertInboxEvent(db: Db, e: InboxEventInput, payloadText: string = JSON.stringify(e.payload)): Promise<{ stored: boolean }> {
  const [stored] = await insertInboxEvents(db, [{ event: e, payloadText }]);
  return { stored: stored! };
}

const PENDING_COLUMNS = ['seq', 'workspace_id', 'event_id', 'type', 'customer_id', 'object_id', 'stripe_created', 'attempts', 'received_at', 'payload'];

/**
 * The oldest pending events that can go now, in arrival order, together with every
 * other pending event of the same customers (up to `limit` events in all): a customer
 * with a backlog is then delivered in one go, however far apart its events arrived.
 * Each customer's events are a prefix of its pending events, so its order holds.
 * Events without a customer come only from the head.
 *
 * The head (at most `heads` customers, domain/relay-pass.ts) leaves out customers that
 * cannot go now, so they never crowd out the others: those whose earliest pending
 * event waits for a retry (a deferred event holds back the customer's later ones), and
 * the `busy` ones (keys `<workspace>/<customer>`, the relay's passes and signals under
 * way).
 */
export async function pendingInboxEvents(db: Db, heads: number, limit = heads * 5, busy: readonly string[] = [], maxWalk = limit * 20): Promise<InboxEvent[]> {
  /*
   * A pass costs the events it looks at, never the whole backlog: a relay catching up
   * after an outage reads a pass about as cheaply as one at the head of a short queue
   * (bench/inbox-read.ts). The walk reads pending events in arrival order, a few
   * columns each, until the pass has `limit` events, the queue ends, or it has looked
   * at `maxWalk` past its first event (the taken customers' events further on then go
   * in a later pass, still in order). Both statements have one good plan whatever the
   * statistics say: after autovacuum analyzes a drained inbox the planner believes
   * nothing is pending, and any shape that lets it choose between the pending indexes
   * can make it filter the whole backlog once per customer
   * (tests/db/inbox-read-plan.test.ts). So the walk is `order by seq limit n` on the
   * pending index, and the payloads come by primary key from a fenced lookup that no
   * partial index can serve.
   */
  return (await pendingInboxPass(db, heads, limit, busy, maxWalk)).events;
}

/** A relay pass's events (pendingInboxEvents), and what its walk looked at to choose them. */
export interface PendingPass {
  events: InboxEvent[];
  /** Pending events the walk looked at until the pass was full or the walk ended. */
  walked: number;
  /** Of those, the events of customers held back by a retry or busy (PassPicker.blocked). */
  blocked: number;
}

/** pendingInboxEvents, saying what it walked: the relay backs off when much of a walk is spent on events it cannot take. */
export function pendingInboxPass(db: Db, heads: number, limit = heads * 5, busy: readonly string[] = [], maxWalk = limit * 20): Promise<PendingPass> {
  // One snapshot for the whole walk and its fetch, as one statement had: with a fresh
  // snapshot per chunk, a customer's event committing between two chunks behind the
  // walk's position would be skipped while the customer's later event was taken.
  return inTransaction(db, (trx) => walkPendingEvents(trx, heads, limit, busy, maxWalk), { isolationLevel: 'repeatable read', readOnly: true });
}

/** pendingInboxPass within its snapshot. */
async function walkPendingEvents(db: Db, heads: number, limit: number, busy: readonly string[], maxWalk: number): Promise<PendingPass> {
  const picker = new PassPicker(heads, limit, new Set(busy));
  // Below every seq (bigserial starts at 1; tests and restores may hold others).
  let after = -Number.MAX_SAFE_INTEGER;
  let walked = 0;
  // Where the pass took its first event: the walk goes on as far as it must to find
  // one (a held-back or busy customer's backlog ahead never starves those behind it),
  // then at most `maxWalk` further.
  let firstTakenAt: number | undefined;
  let exhausted = false;
  while (!picker.full && !exhausted && (firstTakenAt === undefined || walked - firstTakenAt < maxWalk)) {
    const chunk = walked === 0 ? limit : limit * 4;
    const { rows } = await db.raw<{ rows: { seq: number; workspace_id: string; customer_id: string | null; due: boolean }[] }>(
      `select seq, workspace_id, customer_id, next_attempt_at <= now() as due
         from webhook_inbox where status = 'pending' and seq > ? order by seq limit ?`,
      [after, chunk],
    );
    for (const r of rows) {
      if (picker.full) break;
      picker.offer({ seq: r.seq, workspaceId: r.workspace_id, customerId: r.customer_id, due: r.due });
      walked++;
      if (firstTakenAt === undefined && picker.seqs.length > 0) firstTakenAt = walked;
    }
    exhausted = rows.length < chunk;
    if (rows.length > 0) after = rows[rows.length - 1]!.seq;
  }
  if (picker.seqs.length === 0) return { events: [], walked, blocked: picker.blocked };
  const { rows } = await db.raw<{ rows: InboxRow[] }>(
    `with taken as materialized (select ${PENDING_COLUMNS.join(', ')}, requeued_at, next_attempt_at, status from webhook_inbox where seq = any(?::bigint[]))
     select ${PENDING_COLUMNS.join(', ')}, coalesce(requeued_at, received_at) as waiting_since, next_attempt_at <= now() as due
       from taken where status = 'pending' order by seq`,
    [picker.seqs],
  );
  const events = rows.map((r) => ({
    seq: r.seq,
    workspaceId: r.workspace_id,
    eventId: r.event_id,
    type: r.type,
    customerId: r.customer_id,
    objectId: r.object_id,
    stripeCreated: r.stripe_created,
    attempts: r.attempts,
    due: r.due,
    receivedAt: r.received_at,
    waitingSince: r.waiting_since,
    payload: r.payload,
  }));
  return { events, walked, blocked: picker.blocked };
}

/**
 * Marks several events done in one statement (one commit for a whole batch). The relay
 * read them pending; one an owner gave up on meanwhile (ignoreFailingInboxEvent, while
 * its retry was under way) was applied all the same, so it is marked for what happened.
 */
export async function completeInboxEvents(db: Db, done: { seq: number; status: Exclude<InboxStatus, 'pending'> }[]): Promise<void> {
  if (done.length === 0) return;
  await completion(db, done);
}

/** completeInboxEvents's statement, unsent: tests examine what it writes (tests/db/inbox-rewrite.test.ts). */
export function completion(db: Db, done: { seq: number; status: Exclude<InboxStatus, 'pending'> }[]) {
  const ignored = done.filter((d) => d.status === 'ignored').map((d) => d.seq);
  return db('webhook_inbox')
    .whereIn(
      'seq',
      done.map((d) => d.seq),
    )
    .whereIn('status', ['pending', 'ignored'])
    .update({
      status: db.raw(`case when seq = any(?::bigint[]) then 'ignored' else 'processed' end`, [ignored]),
      processed_at: db.fn.now(),
      last_error: null,
    });
}

/**
 * Marks pending events ignored, each with the reason kept as its error, in one
 * statement: the relay's answer to events that are not their workspace's
 * (domain/event-ownership.ts). They stay visible until retention removes them.
 */
export async function setAsideInboxEvents(db: Db, events: readonly { seq: number; reason: string }[]): Promise<void> {
  if (events.length === 0) return;
  await db.raw(
    `update webhook_inbox w set status = 'ignored', processed_at = now(), last_error = f.reason
       from unnest(?::bigint[], ?::text[]) as f(seq, reason)
      where w.seq = f.seq and w.status = 'pending'`,
    [events.map((e) => e.seq), events.map((e) => e.reason.slice(0, 2000))],
  );
}

/** Leaves the event pending and schedules the next attempt after `retryInMs`. */
export async function deferInboxEvent(db: Db, seq: number, error: string, retryInMs: number): Promise<void> {
  await db('webhook_inbox')
    .where({ seq, status: 'pending' })
    .update({
      attempts: db.raw('attempts + 1'),
      last_error: error.slice(0, 2000),
      next_attempt_at: db.raw(`now() + (? * interval '1 millisecond')`, [retryInMs]),
    });
}

/**
 * Deletes the events the relay finished with (processed or ignored) that arrived before
 * `cutoff`, oldest first, `batch` at a time (a statement each: no long transaction, no
 * lock held for long); pending events stay whatever their age. `onBatch` hears the
 * running total after each batch, and ends the run early by answering false. Returns
 * how many were deleted.
 *
 * Events arrive in seq order, so those received before the cutoff are a prefix of the
 * table: its end is found walking the primary key from the oldest event, and each
 * batch deletes within it, so a run reads about what it deletes, not the whole inbox.
 */
export async function pruneInbox(db: Db, cutoff: Date, batch = 5_000, onBatch?: (pruned: number) => boolean | void): Promise<number> {
  const { rows } = await db.raw<{ rows: { bound: string | null }[] }>(
    `select coalesce((select seq from webhook_inbox where received_at >= ? order by seq limit 1), (select max(seq) + 1 from webhook_inbox)) as bound`,
    [cutoff],
  );
  const bound = rows[0]?.bound;
  if (bound === null || bound === undefined) return 0;
  const deleteBatch = async () =>
    (
      await db.raw<{ rowCount: number }>(
        // The outer conditions again: a row the subquery chose may be changed before the
        // delete locks it (an owner's reapplySetAsideEvents makes it pending), and Postgres
        // then checks only these against the row as it is now.
        `delete from webhook_inbox where seq in (
           select seq from webhook_inbox where seq < ? and status <> 'pending' and processed_at < ? order by seq limit ?)
           and status <> 'pending' and processed_at < ?`,
        [bound, cutoff, batch, cutoff],
      )
    ).rowCount;
  return deleteInBatches(deleteBatch, batch, onBatch);
}

/** A pending event whose delivery has failed at least once, as an owner sees it (no payload). */
export interface FailingInboxEvent {
  seq: number;
  eventId: string;
  type: string;
  customerId: string | null;
  objectId: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date;
  receivedAt: Date;
}

const FAILING_COLUMNS = ['seq', 'event_id', 'type', 'customer_id', 'object_id', 'attempts', 'last_error', 'next_attempt_at', 'received_at'];

interface FailingRow {
  seq: number;
  event_id: string;
  type: string;
  customer_id: string | null;
  object_id: string | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date;
  received_at: Date;
}

const toFailing = (r: FailingRow): FailingInboxEvent => ({
  seq: r.seq,
  eventId: r.event_id,
  type: r.type,
  customerId: r.customer_id,
  objectId: r.object_id,
  attempts: r.attempts,
  lastError: r.last_error,
  nextAttemptAt: r.next_attempt_at,
  receivedAt: r.received_at,
});

/**
 * A failing event: pending, its delivery failed at least once. Written as the predicate
 * of the webhook_inbox_failing index (migration 012), so that the planner can use it.
 */
const FAILING = `status = 'pending' and attempts > 0`;

/**
 * A workspace's pending events whose delivery has failed at least once, oldest first,
 * after `afterSeq`. The relay retries each (every minute at most) and holds back the
 * customer's later events meanwhile, so one that can never go stops its customer.
 */
async function failingInboxEvents(db: Db, workspaceId: string, page: { limit: number; afterSeq?: number | undefined }): Promise<FailingInboxEvent[]> {
  const { rows } = await db.raw<{ rows: FailingRow[] }>(
    `select ${FAILING_COLUMNS.join(', ')} from webhook_inbox
      where workspace_id = ? and ${FAILING} and seq > ?
      order by seq limit ?`,
    [workspaceId, page.afterSeq ?? 0, page.limit],
  );
  return rows.map(toFailing);
}

/** How many of a workspace's pending events have failed at least once (the failing index's entries for it). */
async function countFailingInboxEvents(db: Db, workspaceId: string): Promise<number> {
  const { rows } = await db.raw<{ rows: { count: number }[] }>(
    `select count(*)::int as count from webhook_inbox where workspace_id = ? and ${FAILING}`,
    [workspaceId],
  );
  return rows[0]?.count ?? 0;
}

/**
 * A page of a workspace's failing events and how many there are in all, both read from
 * one snapshot, so the count never disagrees with the page.
 */
export function failingInboxPage(db: Db, workspaceId: string, page: { limit: number; afterSeq?: number | undefined }): Promise<{ events: FailingInboxEvent[]; total: number }> {
  return inTransaction(
    db,
    async (trx) => ({ events: await failingInboxEvents(trx, workspaceId, page), total: await countFailingInboxEvents(trx, workspaceId) }),
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}

/** Why a failing event could not be acted on: `missing` (no such event in the workspace), `not_failing` (delivered, ignored, or not yet tried). */
export type NotFailing = 'missing' | 'not_failing';

/**
 * Applies `set` (SQL) to a failing event of the workspace and wakes the relay; returns
 * the event as it is now (with `alsoId`), or why not. `also` is one more statement run
 * with the change, reading the changed row from `changed` and returning one text
 * column `id` (`alsoId`: its first row's, null for none).
 */
async function changeFailingEvent(
  db: Db,
  workspaceId: string,
  eventId: string,
  set: string,
  also?: { sql: string; bindings: readonly Knex.RawBinding[] },
): Promise<{ event: FailingInboxEvent; alsoId: string | null } | NotFailing> {
  const { rows } = await db.raw<{ rows: (FailingRow & { also_id: string | null })[] }>(
    `with changed as (
       update webhook_inbox set ${set}
        where workspace_id = ? and event_id = ? and ${FAILING}
        returning ${FAILING_COLUMNS.join(', ')}, workspace_id, livemode
     )${also ? `, also as (${also.sql})` : ''}
     select changed.*, ${also ? '(select id from also limit 1)' : 'null'} as also_id, pg_notify(?, '') from changed`,
    [workspaceId, eventId, ...(also?.bindings ?? []), INBOX_CHANNEL],
  );
  if (rows[0]) return { event: toFailing(rows[0]), alsoId: rows[0].also_id };
  const found = await db.raw<{ rows: unknown[] }>(`select 1 from webhook_inbox where workspace_id = ? and event_id = ?`, [workspaceId, eventId]);
  return found.rows.length > 0 ? 'not_failing' : 'missing';
}

/** A failing event an owner gave up on, and the re-read of its object queued in its place (null: none, see ignoreFailingInboxEvent). */
export type GivenUpInboxEvent = FailingInboxEvent & { rereadEventId: string | null };

/**
 * Gives up on a failing event: marks it ignored (its error kept), so its customer's
 * later events go on, and wakes the relay for them. Only a pending event whose
 * delivery has failed can be given up on. Should the relay's retry of it be under way
 * and succeed, the relay marks it processed after all (completeInboxEvents).
 *
 * In the same statement, a Stripe event's object is queued to be read again from
 * Stripe (REREAD_EVENT_TYPE, behind the customer's events already waiting), so the
 * mirror gets the state the given-up event would have brought, or newer. A re-read
 * given up on queues none: it is not a Stripe event.
 */
export async function ignoreFailingInboxEvent(db: Db, workspaceId: string, eventId: string): Promise<GivenUpInboxEvent | NotFailing> {
  const result = await changeFailingEvent(db, workspaceId, eventId, `status = 'ignored', processed_at = now()`, {
    sql: `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload)
          select c.workspace_id, ?, ?, c.customer_id, c.object_id, now(), c.livemode,
                 json_build_object('object', m.object, 'id', c.object_id, 'givenUpEventId', c.event_id)
            from changed c join unnest(?::text[], ?::text[]) as m (type, object) on m.type = c.type
           where c.object_id is not null and ${streamsLocked('(select workspace_id as w, customer_id as c from changed) s')}
          on conflict (workspace_id, event_id) do nothing
          returning event_id as id`,
    bindings: [rereadEventId(eventId), REREAD_EVENT_TYPE, [...SUBSCRIBED_EVENT_TYPES], SUBSCRIBED_EVENT_TYPES.map(objectOf)],
  });
  return typeof result === 'string' ? result : { ...result.event, rereadEventId: result.alsoId };
}

/** An object to read again from Stripe, under the inbox event id given. */
export interface RereadRequest {
  eventId: string;
  object: MirroredObject;
  id: string;
  /** Its customer, as the ingress files the object's events (null: none). */
  customerId: string | null;
}

/**
 * Queues re-reads from Stripe (REREAD_EVENT_TYPE, each behind its customer's waiting
 * events): the relay reads each object as it is now and writes it to the mirror dated
 * no earlier than the stored state. `why` goes into each payload beside the object
 * (RereadPayload). An event id already in the inbox queues nothing again; `livemode`
 * undefined takes the workspace's mode.
 * @returns the event ids queued.
 */
export async function queueRereads(db: Db, q: { workspaceId: string; livemode?: boolean | undefined; reads: readonly RereadRequest[]; why: Omit<RereadPayload, 'object' | 'id'> }): Promise<string[]> {
  if (q.reads.length === 0) return [];
  const { rows } = await db.raw<{ rows: { event_id: string }[] }>(
    `with reads as (
       select ?::text as workspace_id, r.event_id, r.object, r.id, nullif(r.customer, '') as customer_id
         from unnest(?::text[], ?::text[], ?::text[], ?::text[]) as r (event_id, object, id, customer)
     ), ins as (
       insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload)
       select workspace_id, event_id, ?, customer_id, id, now(), coalesce(?::boolean, (select w.livemode from workspaces w where w.id = reads.workspace_id)),
              (jsonb_build_object('object', object, 'id', id) || ?::jsonb)::json
         from reads where ${streamsLocked('(select workspace_id as w, customer_id as c from reads) s')}
       on conflict (workspace_id, event_id) do nothing
       returning event_id
     )
     select event_id, pg_notify(?, '') from ins`,
    [
      q.workspaceId,
      q.reads.map((r) => r.eventId),
      q.reads.map((r) => r.object),
      q.reads.map((r) => r.id),
      // No customer as '' (a bound array cannot hold null here).
      q.reads.map((r) => r.customerId ?? ''),
      REREAD_EVENT_TYPE,
      q.livemode ?? null,
      JSON.stringify(q.why),
      INBOX_CHANNEL,
    ],
  );
  return rows.map((r) => r.event_id);
}

/**
 * Queues a re-read of an invoice Wysera found in `status` in Stripe, a change no
 * subscribed event brings (REREAD_NOTICES): one per invoice and status
 * (invoiceRereadEventId), in the workspace's mode.
 * @returns the re-read's event id, or null when that one was queued before.
 */
export async function queueInvoiceReread(db: Db, workspaceId: string, invoice: { id: string; customerId: string | null; status: string }, noticed: RereadNotice): Promise<string | null> {
  const [queued] = await queueRereads(db, {
    workspaceId,
    reads: [{ eventId: invoiceRereadEventId(invoice.id, invoice.status), object: 'invoice', id: invoice.id, customerId: invoice.customerId }],
    why: { noticed },
  });
  return queued ?? null;
}

/**
 * Queues a re-read of each of a sync page's objects that only Stripe can order against
 * the mirror's state of them (workers/mirror-events.ts unorderedReads), in the page's
 * transaction: whichever of the page and the stored state was the newer, the mirror
 * ends with Stripe's current state rather than the one the dates chose. One per object
 * in doubt and run (syncRereadEventId; a refund's is a read of its charge).
 * @returns the re-reads' event ids (none for an object already queued by this run).
 */
export function queueSyncRereads(
  db: Db,
  q: { workspaceId: string; runId: string; livemode: boolean; reads: readonly { object: MirroredObject; id: string; customerId: string | null; about?: string | undefined }[] },
): Promise<string[]> {
  return queueRereads(db, {
    workspaceId: q.workspaceId,
    livemode: q.livemode,
    // Named for the object in doubt: a charge read for its own page this run is read again
    // for a refund's (refunds of one charge on one page share a read: unorderedRefunds).
    reads: q.reads.map((r) => ({ eventId: syncRereadEventId(q.runId, r.about ?? r.id), object: r.object, id: r.id, customerId: r.customerId })),
    why: { syncRunId: q.runId },
  });
}

/**
 * Makes a failing event due now instead of at its next scheduled try (up to a minute
 * away), and wakes the relay: for when its cause has been fixed. Its count of tries
 * and its error stay until the relay's next attempt.
 */
export async function retryFailingInboxEvent(db: Db, workspaceId: string, eventId: string): Promise<FailingInboxEvent | NotFailing> {
  const result = await changeFailingEvent(db, workspaceId, eventId, `next_attempt_at = now()`);
  return typeof result === 'string' ? result : result.event;
}

/** What reapplySetAsideEvents did: events queued again, and those still of another account or mode. */
export interface SetAsideReapplied {
  requeued: number;
  stillSetAside: number;
}

/**
 * Queues again the workspace's retained events that were set aside as another account's
 * or mode's and are now the workspace's own: after its key moved to the account or mode
 * its endpoint sends (or a Connect workspace took the account its events are about), they
 * are applied as if just delivered: pending, no attempts, due now. The ownership check is
 * the relay's own (foreignEventReason), and the relay judges each again when it takes it.
 * One transaction, the candidates locked, so the same event is never queued twice.
 */
export async function reapplySetAsideEvents(db: Db, workspaceId: string, workspace: MirroredAccount): Promise<SetAsideReapplied> {
  return inTransaction(db, async (trx) => {
    const { rows } = await trx.raw<{ rows: { seq: string; livemode: boolean | null; account: string | null }[] }>(
      `select seq, (payload->>'livemode')::boolean as livemode, payload->>'account' as account
         from webhook_inbox
        where workspace_id = ? and status = 'ignored' and starts_with(last_error, ?)
        order by seq
        for update`,
      [workspaceId, SET_ASIDE_PREFIX],
    );
    const ours = rows.filter((r) => r.livemode !== null && foreignEventReason({ livemode: r.livemode, account: r.account }, workspace) === null).map((r) => r.seq);
    if (ours.length > 0) {
      await trx.raw(
        `update webhook_inbox set status = 'pending', attempts = 0, last_error = null, next_attempt_at = now(), processed_at = null, requeued_at = now()
          where seq = any(?::bigint[])`,
        [ours],
      );
      await trx.raw(`select pg_notify(?, '')`, [INBOX_CHANNEL]);
    }
    return { requeued: ours.length, stillSetAside: rows.length - ours.length };
  });
}

/** The inbox's backlog, as inboxBacklog reads it (the worker's inbox gauges). */
export interface InboxBacklog {
  pending: number;
  oldestPendingSeconds: number;
  /** Pending events whose delivery has failed at least once, by workspace (only workspaces that have any). */
  failingByWorkspace: Map<string, number>;
}

/**
 * How many events wait for the relay, how long the oldest has waited, and how many of
 * them have failed at least once in each workspace (failingInboxPage lists them): one
 * statement, so the figures are of one moment.
 */
export async function inboxBacklog(db: Db): Promise<InboxBacklog> {
  const { rows } = await db.raw<{ rows: { workspace_id: string; pending: number; failing: number; oldest: number }[] }>(
    `select workspace_id, count(*)::int as pending, (count(*) filter (where attempts > 0))::int as failing,
            extract(epoch from now() - min(coalesce(requeued_at, received_at)))::float8 as oldest
       from webhook_inbox where status = 'pending' group by workspace_id order by workspace_id`,
  );
  return {
    pending: rows.reduce((n, r) => n + Number(r.pending), 0),
    oldestPendingSeconds: rows.reduce((m, r) => Math.max(m, Number(r.oldest)), 0),
    failingByWorkspace: new Map(rows.filter((r) => Number(r.failing) > 0).map((r) => [r.workspace_id, Number(r.failing)])),
  };
}

/** A workspace's endpoint as its inbox shows it (endpointActivity). */
export interface EndpointActivity {
  lastReceivedAt: Date | null;
  /** Events received since the window's start, by type, busiest first (re-reads left out). */
  received: TypeActivity[];
  lastSetAsideReason: string | null;
  /** Every retained event set aside as another account's or mode's, whenever it arrived (reapplySetAsideEvents takes them again). */
  setAsideKept: number;
  /** The Stripe API versions of the latest events (at most API_VERSION_SAMPLE), most used first. */
  apiVersions: { apiVersion: string | null; events: number }[];
  pending: number;
  oldestPendingSeconds: number;
  failing: number;
}

/** How many of the latest events endpointActivity reads the API version of (each costs reading its payload). */
export const API_VERSION_SAMPLE = 100;

/**
 * What a workspace's inbox says of its endpoint since `since`: what arrived, by type,
 * what was set aside and why, the API versions Stripe sends in, and the backlog; re-reads
 * are Wysera's own and left out of what arrived. Each statement reads the window's
 * events or an index's few pages (never all the workspace keeps), and payloads only of
 * the latest few; only a workspace quiet for the whole window has its latest event looked
 * for in all it keeps, and only one with fewer events in the window than the API version
 * sample its latest events (tests/db/webhook-summary-plan.test.ts).
 */
export async function endpointActivity(db: Db, workspaceId: string, since: Date): Promise<EndpointActivity> {
  const ws = { workspace_id: workspaceId };
  const notReread = (q: Knex.QueryBuilder) => q.whereNot('type', REREAD_EVENT_TYPE);
  const setAside = `status = 'ignored' and starts_with(last_error, ?)`;
  // The window's events are found through the BRIN index on received_at (migration 017):
  // the day costs what it holds, never the whole retention.
  const byType = await notReread(db('webhook_inbox').where(ws).where('received_at', '>=', since))
    .groupBy('type')
    .select<{ type: string; count: number; set_aside: number; latest: Date }[]>(
      'type',
      db.raw('count(*)::int as count'),
      db.raw(`(count(*) filter (where ${setAside}))::int as set_aside`, [SET_ASIDE_PREFIX]),
      db.raw('max(received_at) as latest'),
    )
    .orderBy([{ column: 'count', order: 'desc' }, { column: 'type' }]);
  // Only a workspace quiet for the whole window has its latest event looked for in all it keeps.
  const quiet = byType.length === 0;
  const lastReceivedAt = quiet
    ? ((await notReread(db('webhook_inbox').where(ws)).first<{ received_at: Date | null }>(db.raw('max(received_at) as received_at')))?.received_at ?? null)
    : new Date(Math.max(...byType.map((t) => t.latest.getTime())));
  // The partial index of set-aside events (migration 017) counts those kept, whenever they came.
  const kept = await db('webhook_inbox').where(ws).whereRaw(setAside, [SET_ASIDE_PREFIX]).first<{ kept: number }>(db.raw('count(*)::int as kept'));
  const reason = byType.some((t) => t.set_aside > 0)
    ? await db('webhook_inbox').where(ws).where('received_at', '>=', since).whereRaw(setAside, [SET_ASIDE_PREFIX]).orderBy('seq', 'desc').first<{ last_error: string }>('last_error')
    : undefined;
  // `seq + 0`: ordered after the workspace's rows are found, so the primary key is not
  // walked back through other workspaces' events; within the window when it holds the
  // sample, else among all the workspace keeps; payloads only for the rows kept.
  const inWindow = byType.reduce((n, t) => n + t.count, 0) >= API_VERSION_SAMPLE;
  const { rows: versions } = await db.raw<{ rows: { api_version: string | null; events: number }[] }>(
    `select payload->>'api_version' as api_version, count(*)::int as events
       from webhook_inbox
      where seq = any(array(select seq from webhook_inbox where workspace_id = ? and type <> ? and received_at >= ? order by seq + 0 desc limit ?))
      group by 1 order by events desc, api_version`,
    [workspaceId, REREAD_EVENT_TYPE, inWindow ? since : new Date(0), API_VERSION_SAMPLE],
  );
  const { rows: backlog } = await db.raw<{ rows: { pending: number; failing: number; oldest: number | null }[] }>(
    `select count(*)::int as pending, (count(*) filter (where attempts > 0))::int as failing,
            extract(epoch from now() - min(coalesce(requeued_at, received_at)))::float8 as oldest
       from webhook_inbox where workspace_id = ? and status = 'pending'`,
    [workspaceId],
  );
  return {
    lastReceivedAt,
    setAsideKept: kept?.kept ?? 0,
    received: byType.map((t) => ({ type: t.type, count: t.count, setAside: t.set_aside })),
    lastSetAsideReason: reason?.last_error ?? null,
    apiVersions: versions.map((v) => ({ apiVersion: v.api_version, events: v.events })),
    pending: backlog[0]?.pending ?? 0,
    oldestPendingSeconds: Number(backlog[0]?.oldest ?? 0),
    failing: backlog[0]?.failing ?? 0,
  };
}

export async function inboxCounts(db: Db, workspaceId?: string): Promise<Record<InboxStatus, number>> {
  const q = db('webhook_inbox').select('status').count<{ status: InboxStatus; count: string }[]>('* as count').groupBy('status');
  if (workspaceId) void q.where({ workspace_id: workspaceId });
  const counts: Record<InboxStatus, number> = { pending: 0, processed: 0, ignored: 0 };
  for (const r of await q) counts[r.status] = Number(r.count);
  return counts;
}

/**
 * Of the given invoices, those whose payment failed: the inbox holds a failed payment
 * for it (any status), or its dunning is still running. Their payments matter to the
 * dunning play (domain/play-routing.ts). The running dunning counts because the inbox
 * forgets: a payment more than INBOX_RETENTION_DAYS after the failure it ends (a long
 * schedule, a step held for review) would otherwise not reach the dunning, which would
 * learn of it only at its next check, and not as a recovery.
 */
export async function invoicesWithFailedPayment(db: Db, workspaceId: string, invoiceIds: readonly string[]): Promise<Set<string>> {
  if (invoiceIds.length === 0) return new Set();
  const ids = [...new Set(invoiceIds)];
  const { rows } = await db.raw<{ rows: { invoice_id: string }[] }>(
    `select object_id as invoice_id from webhook_inbox where workspace_id = ? and type = 'invoice.payment_failed' and object_id = any(?::text[])
     union
     select invoice_id from dunning_cases where workspace_id = ? and outcome is null and invoice_id = any(?::text[])`,
    [workspaceId, ids, workspaceId, ids],
  );
  return new Set(rows.map((r) => r.invoice_id));
}
