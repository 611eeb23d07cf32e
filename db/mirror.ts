import type Stripe from 'stripe';
import type { Db } from './knex';
import type { Keyring } from '../platform/crypto';
import { sealCustomerPii } from './customer-pii';
import type { DunningEndFacts } from '../domain/dunning-ends';
import { RUNNING_SUBSCRIPTION_STATUSES } from '../domain/mrr/customer';
import { fullyKnown, resolveSubscriptionDiscounts, type DiscountTerms, type SubscriptionDiscountTerms } from '../domain/mirror-discounts';

/**
 * The Stripe mirror: maps stripe-node objects to rows of the stripe_* tables and
 * upserts them. Every function takes plain Stripe objects and the time Stripe
 * produced that state (the fetch time in a sync, the event's `created` for a
 * webhook), and never replaces a row holding newer state: a late, older event loses
 * to a fresher fetch. Equal times re-apply, so repeating a write changes nothing.
 * Only what the product uses is kept: no card numbers, no payment-method details.
 */

type Id<T extends { id: string }> = string | T;
const idOf = <T extends { id: string }>(v: Id<T> | null | undefined): string | null => (v == null ? null : typeof v === 'string' ? v : v.id);
const at = (unix: number | null | undefined): Date | null => (unix == null ? null : new Date(unix * 1000));
const json = (v: unknown): string => JSON.stringify(v ?? null);

export type MirrorTable =
  | 'stripe_products'
  | 'stripe_prices'
  | 'stripe_customers'
  | 'stripe_subscriptions'
  | 'stripe_subscription_items'
  | 'stripe_invoices'
  | 'stripe_invoice_lines'
  | 'stripe_charges'
  | 'stripe_refunds'
  | 'stripe_payment_intents';

type Row = Record<string, unknown> & { id: string };
/** A mirror row as the row mappers below build it (before workspace and state time are added). */
export type MirrorRow = Row;

/**
 * A read from Stripe's API: its state is from some moment at or after `from` and
 * before `until` on Stripe's clock (domain/stripe-clock.ts readWindow). It is stored
 * as of `from`; `until` tells which later events may still be older than it.
 */
export interface ReadTime {
  from: Date;
  until: Date;
}

/**
 * When the state written is from: one time for every object (an event's second), a
 * read's (a sync page, a re-fetch), or each object's own by its id (a relay pass writes
 * the events of many seconds in one go).
 */
export type StateAt = Date | ReadTime | ReadonlyMap<string, Date>;

/** An object's state time, and for a read the end of its window (null: an event's, from its own second). */
function timeOf(stateAt: StateAt, objectId: string): { at: Date; until: Date | null } {
  if (stateAt instanceof Date) return { at: stateAt, until: null };
  if ('from' in stateAt) return { at: stateAt.from, until: stateAt.until };
  const t = stateAt.get(objectId);
  if (!t) throw new Error(`no state time given for ${objectId}`);
  return { at: t, until: null };
}

/**
 * Upserts rows keyed by (workspace, id) unless the stored state is newer; returns the
 * ids written. `ownerOf` names the object whose state time a row takes (itself, or
 * the parent object of an embedded list's row).
 */
async function upsertRows(db: Db, table: MirrorTable, workspaceId: string, stateAt: StateAt, rows: Row[], ownerOf: (r: Row) => string = (r) => r.id): Promise<string[]> {
  if (!rows.length) return [];
  const full = rows.map((r) => {
    const { at, until } = timeOf(stateAt, ownerOf(r));
    return { ...r, workspace_id: workspaceId, stripe_state_at: at, stripe_read_until: until, synced_at: db.fn.now() };
  });
  const columns = Object.keys(full[0]!).filter((c) => c !== 'workspace_id' && c !== 'id');
  const written: { id: string }[] = await db(table)
    .insert(full)
    .onConflict(['workspace_id', 'id'])
    .merge(columns)
    .where(`${table}.stripe_state_at`, '<=', db.ref('excluded.stripe_state_at'))
    .returning('id');
  return written.map((w) => w.id);
}

/** The mirror's rows of these objects (with their `stripe_state_at`) by id; objects not mirrored are absent. */
export async function mirroredRows(db: Db, table: MirrorTable, workspaceId: string, ids: readonly string[]): Promise<Map<string, MirrorRow & { stripe_state_at: Date }>> {
  if (ids.length === 0) return new Map();
  const rows = await db(table).where({ workspace_id: workspaceId }).whereRaw('id = any(?)', [[...ids]]).select<(MirrorRow & { stripe_state_at: Date; id: string })[]>('*');
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * Of the given customers' subscriptions, those whose end a dunning may be waiting to
 * hear of (domain/play-routing.ts): the mirror holds an invoice of the subscription
 * that is not paid, or one of the customer's that names no subscription (the mirror
 * could not tell which it belongs to, so it counts).
 */
export async function subscriptionsWithUnpaidInvoice(db: Db, workspaceId: string, ends: readonly { customerId: string; subscriptionId: string }[]): Promise<Set<string>> {
  if (ends.length === 0) return new Set();
  const { rows } = await db.raw<{ rows: { subscription_id: string }[] }>(
    `select distinct e.subscription_id from unnest(?::text[], ?::text[]) as e (customer_id, subscription_id)
      where exists (select 1 from stripe_invoices i where i.workspace_id = ? and i.subscription_id = e.subscription_id and i.status is distinct from 'paid')
         or exists (select 1 from stripe_invoices i where i.workspace_id = ? and i.customer_id = e.customer_id and i.subscription_id is null and i.status is distinct from 'paid')`,
    [ends.map((e) => e.customerId), ends.map((e) => e.subscriptionId), workspaceId, workspaceId],
  );
  return new Set(rows.map((r) => r.subscription_id));
}

/**
 * What the mirror holds of an invoice in dunning and of the subscription it bills
 * (`subscriptionId` when the caller read it from Stripe, else the mirrored invoice's).
 */
export async function mirroredDunningFacts(db: Db, workspaceId: string, invoiceId: string, subscriptionId: string | null = null): Promise<DunningEndFacts> {
  const { rows } = await db.raw<{ rows: { invoice_status: string | null; invoice_created: Date | null; subscription_status: string | null; subscription_ended_at: Date | null }[] }>(
    `select i.status as invoice_status, i.created as invoice_created, s.status as subscription_status, s.ended_at as subscription_ended_at
       from (select 1) as one
       left join stripe_invoices i on i.workspace_id = ? and i.id = ?
       left join stripe_subscriptions s on s.workspace_id = ? and s.id = coalesce(?::text, i.subscription_id)`,
    [workspaceId, invoiceId, workspaceId, subscriptionId],
  );
  const row = rows[0]!;
  return {
    invoiceStatus: row.invoice_status,
    paidOffStripe: null,
    invoiceCreated: row.invoice_created,
    subscriptionStatus: row.subscription_status,
    subscriptionEndedAt: row.subscription_ended_at,
  };
}

/** How many of the workspace's mirrored subscriptions Stripe still bills (not ended, in a running state). */
export async function countRunningSubscriptions(db: Db, workspaceId: string): Promise<number> {
  const row = await db('stripe_subscriptions')
    .where({ workspace_id: workspaceId })
    .whereNull('ended_at')
    .whereIn('status', [...RUNNING_SUBSCRIPTION_STATUSES])
    .first<{ count: number }>(db.raw('count(*)::int as count'));
  return row?.count ?? 0;
}

/**
 * The mirrored rows of objects' embedded lists (subscription items, invoice lines, a
 * charge's refunds) in one query, by parent id (a parent with none: an empty list).
 */
export async function mirroredChildrenOf(db: Db, table: MirrorTable, parentColumn: string, workspaceId: string, parentIds: readonly string[]): Promise<Map<string, Record<string, unknown>[]>> {
  const byParent = new Map<string, Record<string, unknown>[]>(parentIds.map((id) => [id, []]));
  if (parentIds.length === 0) return byParent;
  const rows: Record<string, unknown>[] = await db(table).where({ workspace_id: workspaceId }).whereRaw('?? = any(?)', [parentColumn, [...parentIds]]);
  for (const r of rows) byParent.get(String(r[parentColumn]))?.push(r);
  return byParent;
}

/**
 * The latest state time (ms) of each parent's mirrored list rows, by parent id (a parent
 * with none: absent). A list row can be newer than its parent's: refunds are also
 * listed on their own, each dated by its own read.
 */
export async function mirroredChildrenStateAt(db: Db, table: MirrorTable, parentColumn: string, workspaceId: string, parentIds: readonly string[]): Promise<Map<string, number>> {
  if (parentIds.length === 0) return new Map();
  const rows: { parent: string; at: Date }[] = await db(table)
    .where({ workspace_id: workspaceId })
    .whereRaw('?? = any(?)', [parentColumn, [...parentIds]])
    .groupBy(parentColumn)
    .select({ parent: parentColumn }, db.raw('max(stripe_state_at) as at'));
  return new Map(rows.map((r) => [r.parent, r.at.getTime()]));
}

/**
 * Deletes children of the written parents that the parents no longer list, unless a
 * child holds newer state than its parent's write (one statement).
 */
async function pruneChildren(db: Db, table: MirrorTable, parentColumn: string, workspaceId: string, stateAt: StateAt, keep: Map<string, string[]>): Promise<void> {
  if (!keep.size) return;
  // Child ids are unique across parents in Stripe, so one "not in" list serves all parents.
  const childIds = [...keep.values()].flat();
  const parents = [...keep.keys()];
  await db.raw(
    `delete from ?? as c using unnest(?::text[], ?::timestamptz[]) as p(id, state_at)
      where c.workspace_id = ? and c.?? = p.id and c.stripe_state_at <= p.state_at and not (c.id = any(?))`,
    [table, parents, parents.map((id) => timeOf(stateAt, id).at), workspaceId, parentColumn, childIds],
  );
}

const base = (o: { id: string; livemode: boolean; metadata?: Stripe.Metadata | null; created?: number }) => ({
  id: o.id,
  livemode: o.livemode,
  metadata: json(o.metadata ?? {}),
  created: at(o.created),
});

export function productRow(p: Stripe.Product): Row {
  return { ...base(p), name: p.name, active: p.active };
}

export function priceRow(p: Stripe.Price): Row {
  return {
    ...base(p),
    product_id: idOf(p.product) ?? '',
    currency: p.currency,
    unit_amount: p.unit_amount,
    billing_scheme: p.billing_scheme,
    // Each tier's decimal twins too: a null amount beside a decimal one is a fraction of a minor unit (domain/price-amount.ts).
    tiers: p.tiers
      ? json(p.tiers.map((t) => ({ up_to: t.up_to, unit_amount: t.unit_amount, unit_amount_decimal: t.unit_amount_decimal, flat_amount: t.flat_amount, flat_amount_decimal: t.flat_amount_decimal })))
      : null,
    tiers_mode: p.tiers_mode,
    // Package pricing: Stripe bills the quantity divided by `divide_by`, rounded (domain/price-amount.ts billedQuantity).
    transform_quantity: p.transform_quantity ? json({ divide_by: p.transform_quantity.divide_by, round: p.transform_quantity.round }) : null,
    type: p.type,
    recurring_interval: p.recurring?.interval ?? null,
    recurring_interval_count: p.recurring?.interval_count ?? null,
    recurring_usage_type: p.recurring?.usage_type ?? null,
    active: p.active,
  };
}

export function customerRow(c: Stripe.Customer): Row {
  // The customer's own discount bills every subscription of theirs that has none of its own (db/renewal-notes.ts renewalQuote).
  const discount = c.discount ? json(discountTerms(c.discount)) : null;
  return { ...base(c), email: c.email, name: c.name, currency: c.currency ?? null, delinquent: c.delinquent ?? false, deleted: false, discount };
}

/** A Discount as versions before 2025-09-30 send it: the coupon expanded on the discount itself, not under `source`. */
type OlderDiscount = Stripe.Discount & { coupon?: Stripe.Coupon | string | null };

/**
 * A coupon as a read that asked for its `applies_to` holds it: the products it is
 * restricted to, or null for none (nullable in Stripe's API reference). A read that
 * did not ask gets no `applies_to` at all (an "includable" field).
 */
export type ReadCoupon = Omit<Stripe.Coupon, 'applies_to'> & { applies_to?: Stripe.Coupon.AppliesTo | null };

/**
 * Why a coupon could not be read with its restriction (activities/discount-coupons.ts):
 * `refused`, the key may not read coupons; `gone`, Stripe no longer has the coupon
 * (deleted, while its discounts run on).
 */
export type CouponUnreadable = 'refused' | 'gone';

/** A discount as a read leaves it: where its coupon could not be read, why (`coupon_unreadable`, Wysera's own field). */
export type ReadDiscount = Stripe.Discount & { coupon_unreadable?: CouponUnreadable };

/** The discount's coupon, as the discount carries it (an id, or the coupon where expanded). */
export function discountCoupon(d: Stripe.Discount): ReadCoupon | string | null {
  return d.source?.coupon ?? (d as OlderDiscount).coupon ?? null;
}

/**
 * The coupon terms a renewal quote needs: percent or amount off, duration, start and
 * end, and the products the coupon is restricted to (`applies_to`, null for none) where
 * the coupon was read with it; absent, the restriction is not known, and
 * `applies_to_unreadable` says why where a read could not give it (nothing more is to
 * be had by asking again with the same key).
 */
export function discountTerms(d: string | Stripe.Discount): DiscountTerms {
  if (typeof d === 'string') return { id: d };
  const coupon = discountCoupon(d);
  const c = coupon && typeof coupon !== 'string' ? coupon : undefined;
  const unreadable = (d as ReadDiscount).coupon_unreadable;
  const restriction =
    c && 'applies_to' in c ? { applies_to: c.applies_to ? { products: [...c.applies_to.products] } : null } : unreadable ? { applies_to_unreadable: unreadable } : {};
  return {
    id: d.id,
    coupon: c
      ? { id: c.id, percent_off: c.percent_off, amount_off: c.amount_off, currency: c.currency, duration: c.duration, duration_in_months: c.duration_in_months, ...restriction }
      : { id: typeof coupon === 'string' ? coupon : null, ...restriction },
    start: d.start,
    end: d.end,
  };
}

/**
 * A subscription's discounts, each with its terms where the object carries them.
 * Events list `discounts` as bare ids; versions before 2025-03-31 also send the
 * subscription's discount whole as `discount` (its coupon expanded on it before
 * 2025-09-30), so an endpoint left on such a version gives that discount's terms
 * without asking Stripe. Where `discounts` is missing, that one discount is the list.
 */
export function subscriptionDiscounts(s: Stripe.Subscription): DiscountTerms[] {
  const older = (s as Stripe.Subscription & { discount?: Stripe.Discount | null }).discount;
  const whole = older ? discountTerms(older) : undefined;
  return (s.discounts ?? (older ? [older] : [])).map((d) => (typeof d === 'string' && d === whole?.id ? whole : discountTerms(d)));
}

/** A subscription's discounts and its items' own, each with its terms where the object carries them (events: bare ids). */
export function subscriptionDiscountTerms(s: Stripe.Subscription): SubscriptionDiscountTerms {
  return { discounts: subscriptionDiscounts(s), items: new Map((s.items?.data ?? []).map((i) => [i.id, (i.discounts ?? []).map(discountTerms)])) };
}

export function subscriptionRow(s: Stripe.Subscription): Row {
  // Since API version 2025-03-31 billing periods live on the items; the
  // subscription's period is the span of its items' periods. Older versions (an
  // endpoint's webhooks may still come in one) kept it on the subscription.
  const legacy = s as Stripe.Subscription & { current_period_start?: number; current_period_end?: number };
  const items = s.items?.data ?? [];
  const isTime = (n: number | undefined): n is number => typeof n === 'number';
  const itemStarts = items.map((i) => i.current_period_start).filter(isTime);
  const itemEnds = items.map((i) => i.current_period_end).filter(isTime);
  const starts = itemStarts.length ? itemStarts : [legacy.current_period_start].filter(isTime);
  const ends = itemEnds.length ? itemEnds : [legacy.current_period_end].filter(isTime);
  return {
    ...base(s),
    customer_id: idOf(s.customer) ?? '',
    status: s.status,
    currency: s.currency,
    cancel_at_period_end: s.cancel_at_period_end,
    cancel_at: at(s.cancel_at),
    canceled_at: at(s.canceled_at),
    ended_at: at(s.ended_at),
    start_date: at(s.start_date),
    current_period_start: starts.length ? at(Math.min(...starts)) : null,
    current_period_end: ends.length ? at(Math.max(...ends)) : null,
    trial_start: at(s.trial_start),
    trial_end: at(s.trial_end),
    discounts: json(subscriptionDiscounts(s)),
  };
}

/**
 * The subscription's row with the given discount terms instead of its own: an
 * event's bare discount ids completed from the mirror (domain/mirror-discounts.ts).
 */
export function subscriptionRowWithDiscounts(s: Stripe.Subscription, discounts: SubscriptionDiscountTerms | undefined): Row {
  const row = subscriptionRow(s);
  return discounts ? { ...row, discounts: json(discounts.discounts) } : row;
}

/**
 * A subscription item's row. Its own discounts (Stripe applies them to its line before
 * the subscription's) with their terms: `discounts` where given (an event's bare ids
 * completed from the mirror), else as the item carries them.
 */
export function subscriptionItemRow(subscriptionId: string, i: Stripe.SubscriptionItem, livemode: boolean, discounts?: DiscountTerms[]): Row {
  return {
    ...base({ ...i, livemode }),
    subscription_id: subscriptionId,
    price_id: i.price.id,
    quantity: i.quantity ?? null,
    discounts: json(discounts ?? (i.discounts ?? []).map(discountTerms)),
  };
}

/** The rows of the items the subscription carries (with `discounts` as subscriptionRowWithDiscounts takes them), or null when it carries no item list. */
export function subscriptionItemRows(s: Stripe.Subscription, discounts?: SubscriptionDiscountTerms): Row[] | null {
  return s.items ? s.items.data.map((i) => subscriptionItemRow(s.id, i, s.livemode, discounts?.items.get(i.id))) : null;
}

/**
 * The id of the subscription an invoice bills, if any. API versions from 2025-03-31
 * moved it under parent.subscription_details; an account or endpoint on an older
 * version still sends the top-level field.
 */
export function invoiceSubscriptionId(inv: Stripe.Invoice): string | null {
  const legacy = inv as Stripe.Invoice & { subscription?: string | Stripe.Subscription | null };
  return idOf(inv.parent?.subscription_details?.subscription ?? legacy.subscription);
}

/**
 * The invoice's tax, in minor units. Versions from 2025-03-31 list the taxes
 * (`total_taxes`, empty for none); older ones, whose webhooks still reach endpoints
 * left on them, give one amount (`tax`, null for none). Both give the same figure.
 */
function invoiceTax(inv: Stripe.Invoice): number | null {
  const taxes = inv.total_taxes;
  if (taxes) return taxes.reduce((sum, t) => sum + t.amount, 0);
  const legacy = (inv as Stripe.Invoice & { tax?: number | null }).tax;
  return legacy === undefined ? null : (legacy ?? 0);
}

export function invoiceRow(inv: Stripe.Invoice): Row {
  if (!inv.id) throw new Error('a preview invoice (no id) cannot be mirrored');
  return {
    ...base({ ...inv, id: inv.id }),
    customer_id: idOf(inv.customer) ?? '',
    subscription_id: invoiceSubscriptionId(inv),
    status: inv.status,
    currency: inv.currency,
    amount_due: inv.amount_due,
    amount_paid: inv.amount_paid,
    amount_remaining: inv.amount_remaining,
    subtotal: inv.subtotal,
    total: inv.total,
    tax: invoiceTax(inv),
    attempt_count: inv.attempt_count,
    next_payment_attempt: at(inv.next_payment_attempt),
    billing_reason: inv.billing_reason,
    hosted_invoice_url: inv.hosted_invoice_url ?? null,
    period_start: at(inv.period_start),
    period_end: at(inv.period_end),
    paid_at: at(inv.status_transitions?.paid_at),
  };
}

/**
 * An invoice line as older API versions send it: before 2025-03-31 what `parent` and
 * `pricing` say now sat on the line itself, and before 2019-12-03 its `id` was not
 * unique (`sli_`, `ii_`, … repeat across invoices) while `unique_id` (`il_`) was.
 * Webhooks arrive in the version of their endpoint, often the account's older
 * default, while the sync reads the current one. Both must give the same row: else
 * an older webhook stores the line without its price, and the MRR skips it.
 */
type LegacyInvoiceLine = Stripe.InvoiceLineItem & {
  unique_id?: string;
  type?: 'subscription' | 'invoiceitem';
  price?: string | Stripe.Price | null;
  proration?: boolean;
};

/** The id a line is stored under: its `unique_id` in versions that have one (see LegacyInvoiceLine). */
export const invoiceLineId = (l: Stripe.InvoiceLineItem): string => (l as LegacyInvoiceLine).unique_id ?? l.id;

export function invoiceLineRow(invoiceId: string, l: Stripe.InvoiceLineItem): Row {
  const legacy = l as LegacyInvoiceLine;
  const parent = l.parent;
  const sub = parent?.subscription_item_details;
  const item = parent?.invoice_item_details;
  const price = l.pricing?.price_details?.price ?? legacy.price;
  const fromItem = parent ? parent.type === 'invoice_item_details' : legacy.type === 'invoiceitem';
  return {
    ...base({ ...l, id: invoiceLineId(l), created: undefined }),
    invoice_id: invoiceId,
    subscription_id: idOf(l.subscription) ?? sub?.subscription ?? item?.subscription ?? null,
    price_id: idOf(price),
    type: fromItem ? 'invoiceitem' : 'subscription',
    amount: l.amount,
    currency: l.currency,
    quantity: l.quantity,
    proration: sub?.proration ?? item?.proration ?? legacy.proration ?? false,
    period_start: at(l.period?.start),
    period_end: at(l.period?.end),
    discount_amounts: json((l.discount_amounts ?? []).map((d) => ({ amount: d.amount, discount: idOf(d.discount) }))),
  };
}

export function chargeRow(c: Stripe.Charge): Row {
  // Charges lost their `invoice` field in API version 2025-03-31; an older account
  // version still sends it, so read it when present.
  const legacyInvoice = (c as Stripe.Charge & { invoice?: string | { id: string } | null }).invoice;
  return {
    ...base(c),
    customer_id: idOf(c.customer),
    invoice_id: idOf(legacyInvoice),
    payment_intent_id: idOf(c.payment_intent),
    amount: c.amount,
    amount_refunded: c.amount_refunded,
    currency: c.currency,
    status: c.status,
    paid: c.paid,
    refunded: c.refunded,
    failure_code: c.failure_code,
    failure_message: c.failure_message,
  };
}

/** A refund's row; `livemode` is its charge's (or its account's): a Refund object does not say. */
export function refundRow(r: Stripe.Refund, livemode: boolean): Row {
  return { ...base({ ...r, livemode }), charge_id: idOf(r.charge), amount: r.amount, currency: r.currency, status: r.status, reason: r.reason };
}

export function paymentIntentRow(p: Stripe.PaymentIntent): Row {
  const legacyInvoice = (p as Stripe.PaymentIntent & { invoice?: string | { id: string } | null }).invoice;
  return { ...base(p), customer_id: idOf(p.customer), invoice_id: idOf(legacyInvoice), amount: p.amount, currency: p.currency, status: p.status };
}

export function upsertProducts(db: Db, workspaceId: string, products: Stripe.Product[], stateAt: Date | ReadTime): Promise<string[]> {
  return upsertRows(db, 'stripe_products', workspaceId, stateAt, products.map(productRow));
}

export function upsertPrices(db: Db, workspaceId: string, prices: Stripe.Price[], stateAt: Date | ReadTime): Promise<string[]> {
  return upsertRows(db, 'stripe_prices', workspaceId, stateAt, prices.map(priceRow));
}

/**
 * Customers; a deleted customer (from `customer.deleted`) is kept and flagged. Email
 * and name are sealed with the keyring (db/customer-pii.ts); the table refuses plaintext.
 */
export async function upsertCustomers(db: Db, workspaceId: string, customers: (Stripe.Customer | Stripe.DeletedCustomer)[], stateAt: Date | ReadTime, ring: Keyring): Promise<string[]> {
  const live = customers.filter((c): c is Stripe.Customer => c.deleted !== true);
  const written = await upsertRows(db, 'stripe_customers', workspaceId, stateAt, live.map((c) => sealCustomerPii(ring, workspaceId, customerRow(c))));
  const deleted = customers.filter((c) => c.deleted === true);
  if (deleted.length) {
    const rows = await db('stripe_customers')
      .insert(deleted.map((c) => {
        const { at, until } = timeOf(stateAt, c.id);
        return { workspace_id: workspaceId, id: c.id, deleted: true, stripe_state_at: at, stripe_read_until: until };
      }))
      .onConflict(['workspace_id', 'id'])
      .merge(['deleted', 'stripe_state_at', 'stripe_read_until', 'synced_at'])
      .where('stripe_customers.stripe_state_at', '<=', db.ref('excluded.stripe_state_at'))
      .returning<{ id: string }[]>('id');
    written.push(...rows.map((r) => r.id));
  }
  return written;
}

/**
 * The discount terms to store for each subscription and its items: `given` where given,
 * else the object's own, each completed from the terms already stored for the same
 * discount ids (domain/mirror-discounts.ts). A read that could not reach a coupon the
 * mirror holds in full (a key without Coupons: Read after one with it) would otherwise
 * store its thinner terms over them. The stored rows are read only for subscriptions
 * with a discount short of its full terms.
 */
async function discountsKeepingStored(db: Db, workspaceId: string, subs: readonly Stripe.Subscription[], given: ReadonlyMap<string, SubscriptionDiscountTerms> | undefined): Promise<Map<string, SubscriptionDiscountTerms>> {
  const terms = new Map(subs.map((s) => [s.id, given?.get(s.id) ?? subscriptionDiscountTerms(s)]));
  const short = [...terms].filter(([, t]) => !fullyKnown(t)).map(([id]) => id);
  if (short.length === 0) return terms;
  const stored: { id: string; discounts: unknown }[] = await db('stripe_subscriptions').where({ workspace_id: workspaceId }).whereRaw('id = any(?)', [short]).select('id', 'discounts');
  const storedSubs = new Map(stored.map((r) => [r.id, r.discounts]));
  const storedItems = await mirroredChildrenOf(db, 'stripe_subscription_items', 'subscription_id', workspaceId, short);
  for (const id of short) {
    terms.set(id, resolveSubscriptionDiscounts(terms.get(id)!, storedSubs.get(id), (storedItems.get(id) ?? []).map((i) => i.discounts)).terms);
  }
  return terms;
}

/**
 * Subscriptions with their items. When a subscription's item list is complete
 * (`has_more` false), items it no longer lists are removed. `discounts` gives, by
 * subscription id, discount terms to store instead of the object's own, for it and
 * its items (see subscriptionRowWithDiscounts); either way, fuller terms stored for
 * the same discount are kept (discountsKeepingStored).
 */
export async function upsertSubscriptions(db: Db, workspaceId: string, subs: Stripe.Subscription[], stateAt: StateAt, given?: ReadonlyMap<string, SubscriptionDiscountTerms>): Promise<string[]> {
  const discounts = await discountsKeepingStored(db, workspaceId, subs, given);
  const rows = subs.map((s) => subscriptionRowWithDiscounts(s, discounts.get(s.id)));
  const written = new Set(await upsertRows(db, 'stripe_subscriptions', workspaceId, stateAt, rows));
  const applied = subs.filter((s) => written.has(s.id));
  const items = applied.flatMap((s) => subscriptionItemRows(s, discounts.get(s.id)) ?? []);
  await upsertRows(db, 'stripe_subscription_items', workspaceId, stateAt, items, (r) => r.subscription_id as string);
  const complete = applied.filter((s) => s.items && !s.items.has_more);
  await pruneChildren(db, 'stripe_subscription_items', 'subscription_id', workspaceId, stateAt, new Map(complete.map((s) => [s.id, s.items.data.map((i) => i.id)])));
  // Even an event older than the mirror's state names prices that exist: their terms never change.
  await recordItemPrices(db, workspaceId, subs);
  return [...written];
}

/**
 * Prices the mirror learns of from the subscription items that bill on them.
 *
 * Stripe's price list leaves out archived prices unless asked for them, yet a
 * subscription keeps billing on a price archived since (a customer grandfathered
 * after a price change); and a price created after the last sync first reaches the
 * mirror in a subscription's event (no price event is subscribed to). Without its row
 * such an item has no amount: no renewal price, no plan to pitch up from or down to.
 * Each item carries its price whole, so the price is written from it, unless the
 * mirror already holds it: what a read of the price itself told is never replaced.
 *
 * The row is dated at the price's creation, the earliest its state can be from (its
 * amount terms never change once created), so any read of the price on its own is
 * newer and replaces it. A tiered price's tiers come only when asked for, never in an
 * item: it is written as not read yet (`synced_at` at the epoch, which makes it stale
 * in db/price-terms.ts), and the worker's catch-up reads it by its id.
 */
export async function recordItemPrices(db: Db, workspaceId: string, subs: readonly Stripe.Subscription[]): Promise<void> {
  const byId = new Map<string, Stripe.Price>();
  // Only a whole price: an item of an older API version, or a payload cut short, may carry less.
  const whole = (p: Stripe.Price | undefined): p is Stripe.Price => typeof p?.id === 'string' && typeof p.created === 'number' && typeof p.currency === 'string' && typeof p.type === 'string';
  for (const s of subs) for (const item of s.items?.data ?? []) if (whole(item.price)) byId.set(item.price.id, item.price);
  if (byId.size === 0) return;
  const rows = [...byId.values()].map((price) => ({
    ...priceRow(price),
    workspace_id: workspaceId,
    stripe_state_at: new Date(price.created * 1000),
    stripe_read_until: null,
    synced_at: price.billing_scheme === 'tiered' && !price.tiers ? new Date(0) : db.fn.now(),
  }));
  await db('stripe_prices').insert(rows).onConflict(['workspace_id', 'id']).ignore();
}

/** Invoices with their lines; lines of a complete list replace the stored ones. */
export async function upsertInvoices(db: Db, workspaceId: string, invoices: Stripe.Invoice[], stateAt: StateAt): Promise<string[]> {
  const withId = invoices.filter((i): i is Stripe.Invoice & { id: string } => !!i.id);
  const written = new Set(await upsertRows(db, 'stripe_invoices', workspaceId, stateAt, withId.map(invoiceRow)));
  const applied = withId.filter((i) => written.has(i.id));
  const lines = applied.flatMap((i) => (i.lines?.data ?? []).map((l) => invoiceLineRow(i.id, l)));
  // A line id can repeat across invoice revisions of one page; keep the last one.
  const unique = [...new Map(lines.map((l) => [l.id, l])).values()];
  await upsertRows(db, 'stripe_invoice_lines', workspaceId, stateAt, unique, (r) => r.invoice_id as string);
  const complete = applied.filter((i) => i.lines && !i.lines.has_more);
  await pruneChildren(db, 'stripe_invoice_lines', 'invoice_id', workspaceId, stateAt, new Map(complete.map((i) => [i.id, i.lines.data.map(invoiceLineId)])));
  return [...written];
}

export function upsertCharges(db: Db, workspaceId: string, charges: Stripe.Charge[], stateAt: StateAt): Promise<string[]> {
  return upsertRows(db, 'stripe_charges', workspaceId, stateAt, charges.map(chargeRow));
}

/**
 * Refunds of one mode (refundRow); with `byCharge` each takes its charge's state time
 * (refunds embedded in charges, keyed by charge id), otherwise its own.
 */
export function upsertRefunds(db: Db, workspaceId: string, refunds: Stripe.Refund[], stateAt: StateAt, livemode: boolean, byCharge = false): Promise<string[]> {
  return upsertRows(db, 'stripe_refunds', workspaceId, stateAt, refunds.map((r) => refundRow(r, livemode)), byCharge ? (r) => r.charge_id as string : undefined);
}

export function upsertPaymentIntents(db: Db, workspaceId: string, intents: Stripe.PaymentIntent[], stateAt: Date | ReadTime): Promise<string[]> {
  return upsertRows(db, 'stripe_payment_intents', workspaceId, stateAt, intents.map(paymentIntentRow));
}
