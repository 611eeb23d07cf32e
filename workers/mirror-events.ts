import type Stripe from 'stripe';
import { z } from 'zod';
import { inTransaction, type Db } from '../db/knex';
import {
  chargeRow,
  invoiceLineId,
  invoiceLineRow,
  invoiceRow,
  mirroredChildrenOf,
  mirroredChildrenStateAt,
  mirroredRows,
  refundRow,
  subscriptionDiscountTerms,
  subscriptionItemRows,
  subscriptionRowWithDiscounts,
  upsertCharges,
  upsertInvoices,
  upsertRefunds,
  upsertSubscriptions,
  type MirrorRow,
  type MirrorTable,
  type ReadTime,
  type StateAt,
} from '../db/mirror';
import { chargeStage, eventSecond, furtherAlong, invoiceStage, mayBeEitherSide, mirrorVerdict, sameRowContents, sameRowSet, storedStateEnds, subscriptionStage, type LifeStage } from '../domain/mirror-compare';
import { resolveSubscriptionDiscounts, type SubscriptionDiscountTerms } from '../domain/mirror-discounts';
import { MIRRORED_OBJECTS, REREAD_EVENT_TYPE, type MirroredObject, type RereadPayload, type SubscribedEventType } from '../domain/event-types';
import type { Dated } from '../activities/stripe-dated';
import { groupBy } from '../domain/group-by';
import type { MirrorRefetch } from './mirror-refetch';

export interface MirrorApplyResult {
  /** Whether state was written (false: the mirror already held newer state). */
  written: boolean;
  /** Whether the state written was read from Stripe instead of taken from the event. */
  refetched: boolean;
  /**
   * Only from applyEventsToMirror: why an event in doubt or a re-read failed (Stripe
   * could not be read, e.g. StripeUnavailableError; its write failed; a re-read's payload
   * is unreadable); nothing was written for it.
   */
  error?: Error;
}

/** How many objects in doubt are read from Stripe at once (each through the workspace's limiter). */
const REFETCH_LANES = 4;

/**
 * How one kind of Stripe object is compared with the mirror, read again from Stripe,
 * and written. `C` is what an event's object may lack and the mirror may already
 * hold (a subscription's discount terms), carried over into the row written.
 */
interface MirrorKind<T extends { id: string }, C = never> {
  table: MirrorTable;
  /** Where the object's embedded list is mirrored, keyed by `parentColumn`. */
  childTable: MirrorTable;
  parentColumn: string;
  row(o: T, carry?: C): MirrorRow;
  /** The embedded list's rows (with what `carry` completes of them), or null when the object does not carry the list. */
  children(o: T, carry?: C): MirrorRow[] | null;
  /** The embedded list stops short (`has_more`): the object alone is not its full state. */
  truncated(o: T): boolean;
  /**
   * Completes the event's object from the stored row (undefined: not mirrored) and,
   * where `completesFromList` says so, its list's stored rows: what to carry over, as
   * far as they know, and `doubt` when only Stripe can tell the rest (what is carried
   * is then written should Stripe not answer). Absent: the object is complete as it is.
   */
  complete?(o: T, stored: Record<string, unknown> | undefined, storedList: readonly Record<string, unknown>[]): { carry: C; doubt: boolean };
  /** Whether `complete` needs the stored rows of the object's list (read only for the objects that do). */
  completesFromList?(o: T): boolean;
  /** How far along its life a row's state is: settles a same-second tie Stripe cannot (domain/mirror-compare.ts). */
  stage(row: MirrorRow): LifeStage;
  refetch(r: MirrorRefetch, workspaceId: string, id: string): Promise<Dated<T> | null>;
  /** Writes objects as the state of `stateAt` (newest state wins); returns the ids written. */
  write(db: Db, workspaceId: string, objects: T[], stateAt: StateAt, carries: ReadonlyMap<string, C>): Promise<Set<string>>;
}

const subscriptions: MirrorKind<Stripe.Subscription, SubscriptionDiscountTerms> = {
  table: 'stripe_subscriptions',
  childTable: 'stripe_subscription_items',
  parentColumn: 'subscription_id',
  row: subscriptionRowWithDiscounts,
  children: subscriptionItemRows,
  truncated: (s) => s.items?.has_more === true,
  stage: subscriptionStage,
  // Events carry discounts, the subscription's and its items' own, as bare ids; the sync and the refetch store their coupon terms.
  complete: (s, stored, storedItems) => {
    const resolved = resolveSubscriptionDiscounts(subscriptionDiscountTerms(s), stored?.discounts, storedItems.map((i) => i.discounts));
    return { carry: resolved.terms, doubt: !resolved.complete };
  },
  // Most items have no discount of their own: their stored rows are not read for none.
  completesFromList: (s) => (s.items?.data ?? []).some((i) => (i.discounts ?? []).length > 0),
  refetch: (r, ws, id) => r.subscription(ws, id),
  write: async (db, ws, subs, at, discounts) => new Set(await upsertSubscriptions(db, ws, subs, at, discounts)),
};

type InvoiceWithId = Stripe.Invoice & { id: string };

const invoices: MirrorKind<InvoiceWithId> = {
  table: 'stripe_invoices',
  childTable: 'stripe_invoice_lines',
  parentColumn: 'invoice_id',
  row: invoiceRow,
  // A line id can repeat across invoice revisions; the mirror keeps the last one.
  children: (i) => (i.lines ? [...new Map(i.lines.data.map((l) => [invoiceLineId(l), invoiceLineRow(i.id, l)])).values()] : null),
  truncated: (i) => i.lines?.has_more === true,
  stage: invoiceStage,
  refetch: async (r, ws, id) => {
    const read = await r.invoice(ws, id);
    const inv = read?.value;
    return read && inv?.id ? { ...read, value: { ...inv, id: inv.id } } : null;
  },
  write: async (db, ws, invs, at) => new Set(await upsertInvoices(db, ws, invs, at)),
};

const charges: MirrorKind<Stripe.Charge> = {
  table: 'stripe_charges',
  childTable: 'stripe_refunds',
  parentColumn: 'charge_id',
  row: chargeRow,
  children: (c) => (c.refunds ? c.refunds.data.map((r) => refundRow(r, c.livemode)) : null),
  truncated: (c) => c.refunds?.has_more === true,
  stage: chargeStage,
  refetch: (r, ws, id) => r.charge(ws, id),
  write: async (db, ws, list, at) => {
    const written = await upsertCharges(db, ws, list, at);
    // Refunds arrive inside the charge (Stripe lists them under `refunds`): the charge's state time and mode.
    for (const [livemode, charges] of groupBy(list, (c) => c.livemode)) {
      const refunds = charges.flatMap((c) => (c.refunds?.data ?? []).map((r) => ({ ...r, charge: c.id })));
      if (refunds.length) await upsertRefunds(db, ws, refunds, at, livemode, true);
    }
    return new Set(written);
  },
};

/**
 * A subscribed event as the relay holds it: its type and the payload Stripe sent; or a
 * re-read (REREAD_EVENT_TYPE) with its payload (RereadPayload, read by parseReread).
 */
export type MirrorEvent = { type: SubscribedEventType; payload: unknown } | { type: typeof REREAD_EVENT_TYPE; payload: unknown };

const rereadPayload = z.object({
  object: z.enum(MIRRORED_OBJECTS),
  id: z.string().min(1),
  givenUpEventId: z.string().optional(),
  syncRunId: z.string().optional(),
  // Only said, never acted on: a value added later must not fail a relay still on older code.
  noticed: z.string().optional(),
});

/** A re-read's payload, or why it is not one (the inbox row was written by ignoreFailingInboxEvent or queueSyncRereads, but is read back from storage). */
export function parseReread(payload: unknown): RereadPayload | Error {
  const parsed = rereadPayload.safeParse(payload);
  return parsed.success ? parsed.data : new Error(`not a re-read's payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

/**
 * Applies subscribed Stripe events' objects to the mirror, each as the state of its
 * `event.created`. The mirror keeps whichever state is newest, so events applied out
 * of order, or twice, end in the same rows as one ordered delivery.
 *
 * Together: of several events about one object only the newest is written (the
 * others would be overwritten by it), the stored rows of all the objects are read in
 * one query per kind, and the objects of a kind whose events are clear are written
 * together in one transaction (each object as the state of its own event's time). A
 * pass of the relay thus costs a few statements per kind instead of a few per event.
 *
 * A subscription event's discounts, its own and its items', are bare ids: the coupon
 * terms the mirror already holds for those discount ids are kept
 * (domain/mirror-discounts.ts).
 *
 * With `refetch`, an event in doubt is not trusted: when the mirror already holds a
 * different state from the same second (Stripe's event times have one-second
 * resolution, so arrival order would decide; two different events of one object in
 * the same second count the same), when the object's embedded list is truncated, or
 * when a subscription or one of its items lists a discount the mirror holds no full
 * terms for (added or changed, or stored before the mirror kept a coupon's
 * restriction), the object's current state is read from Stripe through the workspace's
 * rate-limited client (a few at a time) and written instead. If Stripe cannot be
 * reached, that event's result carries the error (StripeUnavailableError) and nothing
 * is written for it; the other events go through, and the caller retries the failed
 * ones later. Without `refetch` the event's state is applied as it is.
 *
 * A re-read (REREAD_EVENT_TYPE, queued when an owner gives up on an event or by a sync) is its
 * object read from Stripe the same way, whatever the mirror holds, and written as the
 * state of the read's time on Stripe's clock (domain/stripe-clock.ts). Stripe having no such
 * object, or no `refetch`, writes nothing; an unreadable payload fails its event.
 * @returns one result per event, in order (an event superseded by a newer one of the
 *   same object: nothing written).
 */
export async function applyEventsToMirror(db: Db, workspaceId: string, events: readonly MirrorEvent[], refetch?: MirrorRefetch): Promise<MirrorApplyResult[]> {
  const results: MirrorApplyResult[] = events.map(() => ({ written: false, refetched: false }));
  const subs: Target<Stripe.Subscription>[] = [];
  const invs: Target<InvoiceWithId>[] = [];
  const chgs: Target<Stripe.Charge>[] = [];
  const rereads: Record<MirroredObject, Reread[]> = { subscription: [], invoice: [], charge: [] };
  events.forEach((e, index) => {
    if (e.type === REREAD_EVENT_TYPE) {
      const reread = parseReread(e.payload);
      if (reread instanceof Error) results[index] = { written: false, refetched: false, error: reread };
      else rereads[reread.object].push({ id: reread.id, index });
      return;
    }
    const { type, payload } = e;
    const event = payload as { created: number; data: { object: unknown } };
    const eventAt = new Date(event.created * 1000);
    const object = event.data.object;
    switch (type) {
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted':
        subs.push({ object: object as Stripe.Subscription, eventAt, index });
        break;
      case 'invoice.payment_failed':
      case 'invoice.payment_succeeded': {
        const inv = object as Stripe.Invoice;
        // A preview invoice (no id) is never mirrored.
        if (inv.id) invs.push({ object: { ...inv, id: inv.id }, eventAt, index });
        break;
      }
      case 'charge.refunded':
        chgs.push({ object: object as Stripe.Charge, eventAt, index });
    }
  });
  await applyKind(db, workspaceId, subscriptions, subs, rereads.subscription, refetch, results);
  await applyKind(db, workspaceId, invoices, invs, rereads.invoice, refetch, results);
  await applyKind(db, workspaceId, charges, chgs, rereads.charge, refetch, results);
  return results;
}

/** One event: see applyEventsToMirror. */
export async function applyEventToMirror(db: Db, workspaceId: string, type: SubscribedEventType, payload: unknown, refetch?: MirrorRefetch): Promise<MirrorApplyResult> {
  const [result] = await applyEventsToMirror(db, workspaceId, [{ type, payload }], refetch);
  if (result!.error) throw result!.error;
  return result!;
}

interface Target<T> {
  object: T;
  eventAt: Date;
  /** The event's place in the input. */
  index: number;
}

/** An object to read from Stripe for a re-read, and the re-read's place in the input. */
interface Reread {
  id: string;
  index: number;
}

/** Whether two copies of one object differ in what the mirror stores of them. */
function differentStates<T extends { id: string }, C>(kind: MirrorKind<T, C>, a: T, b: T): boolean {
  if (!sameRowContents(kind.row(a), kind.row(b))) return true;
  const [ca, cb] = [kind.children(a), kind.children(b)];
  return ca !== null && cb !== null && !sameRowSet(ca, cb);
}

/** An object of a read that only Stripe can order against the mirror's state of it (unorderedReads). */
export interface UnorderedRead {
  object: MirroredObject;
  id: string;
  /** Its customer, as the ingress files the object's events (null: none). */
  customerId: string | null;
  /** The object in doubt, when it is not the one read (a refund, read with its charge). */
  about?: string;
}

/** What `unordered` compares of an object: its row, and its embedded list where it has one (children not null). */
type Comparable<T extends { id: string }> = Pick<MirrorKind<T, never>, 'table' | 'row'> & { list?: Pick<MirrorKind<T, never>, 'children' | 'childTable' | 'parentColumn'> };

/**
 * Of a read's objects (a sync's page, before it is written), those whose stored state
 * differs from the read's and may be on either side of it: the stored state's time
 * (an event's second, or a read's window) overlaps the read's window. The write goes
 * by dates alone (written over a state dated no later than the read's start, refused
 * by one dated after it), and either way the other state may be the newer.
 */
async function unordered<T extends { id: string }>(db: Db, workspaceId: string, kind: Comparable<T>, objects: readonly T[], window: ReadTime): Promise<T[]> {
  const stored = await mirroredRows(db, kind.table, workspaceId, objects.map((o) => o.id));
  const found: T[] = [];
  /** Overlapping objects whose rows are alike: their lists decide. */
  const alike: { o: T; children: (MirrorRow & { id: string })[] }[] = [];
  for (const o of objects) {
    const row = stored.get(o.id);
    if (!row) continue;
    if (!mayBeEitherSide(row.stripe_state_at.getTime(), (row.stripe_read_until as Date | null | undefined) ?? null, window)) continue;
    const children = kind.list?.children(o) ?? null;
    if (!sameRowContents(kind.row(o), row)) found.push(o);
    else if (children !== null) alike.push({ o, children });
  }
  if (!kind.list || alike.length === 0) return found;
  const storedChildren = await mirroredChildrenOf(db, kind.list.childTable, kind.list.parentColumn, workspaceId, alike.map(({ o }) => o.id));
  for (const { o, children } of alike) if (!sameRowSet(children, storedChildren.get(o.id) ?? [])) found.push(o);
  return found;
}

/** unordered for a kind the relay reads again itself: each object in doubt is read, filed under its own customer. */
async function unorderedOf<T extends { id: string }, C>(db: Db, workspaceId: string, object: MirroredObject, kind: MirrorKind<T, C>, objects: readonly T[], window: ReadTime): Promise<UnorderedRead[]> {
  return (await unordered(db, workspaceId, { table: kind.table, row: (o) => kind.row(o), list: kind }, objects, window)).map((o) => ({ object, id: o.id, customerId: (kind.row(o).customer_id as string | null | undefined) || null }));
}

/**
 * Refunds listed on their own, against the refunds the mirror holds (from their
 * charges' events, dated by the charge's event, or from earlier reads). A refund has no
 * read of its own: one in doubt has its charge read again with all its refunds, filed
 * under the charge's customer as the mirror knows it (a charge not mirrored yet: none).
 * Several refunds of one charge in doubt on the page share one read, named for the
 * first of them (a read named for the charge could be taken for one queued for the
 * charges' own page earlier in the run, and be skipped as queued already).
 */
async function unorderedRefunds(db: Db, workspaceId: string, list: readonly Stripe.Refund[], livemode: boolean, window: ReadTime): Promise<UnorderedRead[]> {
  const refund: Comparable<Stripe.Refund> = { table: 'stripe_refunds', row: (r) => refundRow(r, livemode) };
  /** The first refund in doubt of each charge, by charge. */
  const firstByCharge = new Map<string, string>();
  for (const r of await unordered(db, workspaceId, refund, list, window)) {
    const charge = refund.row(r).charge_id as string | null;
    if (charge && !firstByCharge.has(charge)) firstByCharge.set(charge, r.id);
  }
  const customers = await mirroredRows(db, 'stripe_charges', workspaceId, [...firstByCharge.keys()]);
  return [...firstByCharge].map(([charge, about]) => ({ object: 'charge', id: charge, customerId: (customers.get(charge)?.customer_id as string | null | undefined) || null, about }));
}

/** What a sync's page asks before it is written (queueSyncRereads), by kind of object: see unordered. */
export const unorderedReads = {
  subscription: (db: Db, workspaceId: string, subs: readonly Stripe.Subscription[], window: ReadTime) => unorderedOf(db, workspaceId, 'subscription', subscriptions, subs, window),
  invoice: (db: Db, workspaceId: string, invs: readonly Stripe.Invoice[], window: ReadTime) =>
    unorderedOf(db, workspaceId, 'invoice', invoices, invs.filter((i): i is InvoiceWithId => !!i.id), window),
  charge: (db: Db, workspaceId: string, list: readonly Stripe.Charge[], window: ReadTime) => unorderedOf(db, workspaceId, 'charge', charges, list, window),
  refund: unorderedRefunds,
};

async function applyKind<T extends { id: string }, C>(
  db: Db,
  workspaceId: string,
  kind: MirrorKind<T, C>,
  targets: Target<T>[],
  rereads: Reread[],
  refetch: MirrorRefetch | undefined,
  results: MirrorApplyResult[],
): Promise<void> {
  if (targets.length === 0 && rereads.length === 0) return;
  // An object and its list (items, lines, refunds) in one transaction: a write that fails
  // part-way leaves neither, and the relay commits once per write instead of per table.
  const write = (objects: T[], stateAt: StateAt, carries: ReadonlyMap<string, C>) => inTransaction(db, (trx) => kind.write(trx, workspaceId, objects, stateAt, carries));
  // The newest event of each object; of two from one second the one further along its
  // life, else the last (as one by one). Stripe is asked below; this is what stays if it cannot tell.
  const newest = new Map<string, Target<T> & { tiedWithOther: boolean }>();
  for (const t of targets) {
    const cur = newest.get(t.object.id);
    if (cur && t.eventAt < cur.eventAt) continue;
    const tied = cur !== undefined && t.eventAt.getTime() === cur.eventAt.getTime() && (cur.tiedWithOther || differentStates(kind, cur.object, t.object));
    const keep = tied && furtherAlong(kind.stage(kind.row(cur.object)), kind.stage(kind.row(t.object))) ? cur : t;
    newest.set(t.object.id, { ...keep, tiedWithOther: tied });
  }
  // The stored rows of the events' objects, and of the re-reads' (a read's write is dated no earlier than them).
  const storedIds = [...newest.keys(), ...(refetch ? rereads.map((r) => r.id) : [])];
  const stored = storedIds.length > 0 && (refetch || kind.complete) ? await mirroredRows(db, kind.table, workspaceId, storedIds) : new Map<string, MirrorRow>();
  /** What this call wrote of an object, by id (ms): a read of it below is not dated before that either. */
  const writtenAt = new Map<string, number>();
  const storedAt = (id: string) => {
    const at = (stored.get(id)?.stripe_state_at as Date | undefined)?.getTime();
    const written = writtenAt.get(id);
    return written === undefined ? at : Math.max(at ?? 0, written);
  };

  // The stored lists `complete` reads, in one query for the objects that need theirs.
  const listIds = kind.completesFromList ? [...newest.values()].filter((t) => kind.completesFromList!(t.object)).map((t) => t.object.id) : [];
  const storedLists = listIds.length > 0 ? await mirroredChildrenOf(db, kind.childTable, kind.parentColumn, workspaceId, listIds) : new Map<string, Record<string, unknown>[]>();

  const clear: Target<T>[] = [];
  const carries = new Map<string, C>();
  const doubtful: (Target<T> & { carry: C | undefined })[] = [];
  for (const t of newest.values()) {
    const row = stored.get(t.object.id);
    const completed = kind.complete?.(t.object, row, storedLists.get(t.object.id) ?? []);
    // In doubt, what the mirror could complete is carried all the same: it is what is
    // written should Stripe not be asked (no `refetch`) or not know the object.
    const carry = completed?.carry;
    if (refetch) {
      const verdict = await mirrorVerdict({
        eventAt: t.eventAt,
        storedAt: (row?.stripe_state_at as Date | undefined) ?? null,
        storedUntil: (row?.stripe_read_until as Date | null | undefined) ?? null,
        // An object the mirror cannot complete is no more the full state than a truncated
        // list; two different states in this batch from the same second are a tie as well.
        truncated: kind.truncated(t.object) || completed?.doubt === true || t.tiedWithOther,
        differs: async () => {
          if (!row || !sameRowContents(kind.row(t.object, carry), row)) return true;
          const children = kind.children(t.object, carry);
          if (children === null) return false;
          const storedChildren = await mirroredChildrenOf(db, kind.childTable, kind.parentColumn, workspaceId, [t.object.id]);
          return !sameRowSet(children, storedChildren.get(t.object.id) ?? []);
        },
      });
      if (verdict === 'stale') continue;
      if (verdict === 'doubt') {
        doubtful.push({ ...t, carry });
        continue;
      }
    }
    clear.push(t);
    if (carry !== undefined) carries.set(t.object.id, carry);
  }

  if (clear.length > 0) {
    // One write for all of them, each object as the state of its own event's time.
    const written = await write(
      clear.map((t) => t.object),
      new Map(clear.map((t) => [t.object.id, t.eventAt])),
      carries,
    );
    for (const t of clear) {
      results[t.index] = { written: written.has(t.object.id), refetched: false };
      if (written.has(t.object.id)) writtenAt.set(t.object.id, t.eventAt.getTime());
    }
  }

  // Objects in doubt and re-reads, a few at a time; one that Stripe cannot give fails
  // only its event. Without `refetch` a re-read has nothing to read with (written: false).
  const reads: { id: string; index: number; event?: { object: T; eventAt: Date; carry: C | undefined } }[] = [
    ...doubtful.map((t) => ({ id: t.object.id, index: t.index, event: { object: t.object, eventAt: t.eventAt, carry: t.carry } })),
    ...(refetch ? rereads : []),
  ];
  /**
   * Whether an event Stripe could not settle ties with the stored state (the same
   * second) and is behind it in the object's life: then the stored state stays.
   */
  const behindStoredTie = (id: string, event: { object: T; eventAt: Date; carry: C | undefined }): boolean => {
    const row = stored.get(id);
    const at = storedAt(id);
    if (!row || at === undefined || storedStateEnds(at, (row.stripe_read_until as Date | null | undefined) ?? null) <= eventSecond(event.eventAt)) return false;
    return furtherAlong(kind.stage(row), kind.stage(kind.row(event.object, event.carry)));
  };
  // Their lists' stored rows too: refunds listed on their own are dated by that read, which may be after their charge's.
  const listsAt = refetch && reads.length > 0 ? await mirroredChildrenStateAt(db, kind.childTable, kind.parentColumn, workspaceId, reads.map((r) => r.id)) : new Map<string, number>();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < reads.length; i = next++) {
      const r = reads[i]!;
      try {
        const current = await kind.refetch(refetch!, workspaceId, r.id);
        // Stripe cannot tell (no such object, or no key to ask with): the event is all there
        // is, and a re-read has nothing to write.
        let written = new Set<string>();
        // The read is dated on Stripe's clock, at the earliest it can have happened. The
        // event came before it, and so did the stored state, its list's included (read
        // from the mirror before the request went out, and dated no later than it
        // happened): the read is never dated before any of them. Dated before the event,
        // the doubtful state it replaces would win the tie; before the stored state (an
        // earlier read's, dated later within the same second by a shorter round trip),
        // the write would be refused and the event taken as done with the mirror as it was.
        const floor = Math.max(r.event?.eventAt.getTime() ?? 0, storedAt(r.id) ?? 0, listsAt.get(r.id) ?? 0);
        if (current) {
          const from = Math.max(current.readAt.getTime(), floor);
          // Its window never ends before its date is over (as an event's state would).
          written = await write([current.value], { from: new Date(from), until: new Date(Math.max(current.readUntil.getTime(), from + 1)) }, new Map());
          if (written.has(r.id)) writtenAt.set(r.id, Math.max(writtenAt.get(r.id) ?? from, from));
        }
        else if (r.event && !behindStoredTie(r.id, r.event)) written = await write([r.event.object], r.event.eventAt, new Map(r.event.carry === undefined ? [] : [[r.id, r.event.carry]]));
        results[r.index] = { written: written.has(r.id), refetched: current !== null };
      } catch (err) {
        results[r.index] = { written: false, refetched: false, error: err as Error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(REFETCH_LANES, reads.length) }, lane));
}
