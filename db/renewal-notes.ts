import { randomUUID } from 'node:crypto';
import { PRICE_TERM_COLUMNS, priceTerms, type PriceTermRow } from './price-terms';
import type { Db } from './knex';
import { LONG_TERM_MONTHS, type RenewalFold, type RenewalOutcome } from '../domain/renewal';
import { periodAmount } from '../domain/price-amount';
import { renewalPrice, type RenewalPrice } from '../domain/renewal-price';
import { renewalNoteWorkflowId } from '../workflows/ids';
import { outreachRows, type Outreach } from './outreach-rows';

/** One renewal of one long-term subscription the renewal play wrote (or would have) a note about (migration 026). */
export interface RenewalNote extends Outreach {
  subscriptionId: string;
  renewsAt: Date;
  fold: RenewalFold | null;
  outcome: RenewalOutcome | null;
}

interface NoteRow {
  id: string;
  workspace_id: string;
  customer_id: string;
  subscription_id: string;
  renews_at: Date;
  workflow_id: string;
  fold: RenewalFold | null;
  started_at: Date;
  workflow_started_at: Date | null;
  outcome: RenewalOutcome | null;
  ended_at: Date | null;
}

const toNote = (r: NoteRow): RenewalNote => ({
  id: r.id,
  workspaceId: r.workspace_id,
  customerId: r.customer_id,
  subscriptionId: r.subscription_id,
  renewsAt: r.renews_at,
  workflowId: r.workflow_id,
  fold: r.fold,
  startedAt: r.started_at,
  workflowStartedAt: r.workflow_started_at,
  outcome: r.outcome,
  endedAt: r.ended_at,
});

/** The notes' lifecycle, as the renewal scan and workflow drive it (activities/outreach-scan.ts). */
export const renewalNoteRows = outreachRows<NoteRow, RenewalNote, RenewalOutcome>('renewal_notes', toNote);

/** Records what the note's draft folded in (once: the draft does not change its fold). */
export async function recordFold(db: Db, id: string, fold: RenewalFold): Promise<void> {
  await db('renewal_notes').where({ id }).whereNull('fold').update({ fold });
}

/**
 * A long-term item `i` (its price `p`) of the subscription `s` that renews in full:
 * billed every LONG_TERM_MONTHS months or more (yearly included), and its subscription
 * not set to end before the item's next period is over (a `cancel_at` part-way through
 * it makes the renewal a prorated stub, not the renewal a note tells of). The next
 * period's end is worked out on the UTC calendar, as Stripe's periods run, whatever the
 * session's time zone; Postgres's month arithmetic can land up to three days before
 * Stripe's anchored end (after a short month), so a `cancel_at` at the period's very
 * end always counts as a full renewal.
 */
const LASTS_ITS_NEXT_PERIOD = `(s.cancel_at is null or s.cancel_at >= ((s.current_period_end at time zone 'UTC') + make_interval(
        years => case when p.recurring_interval = 'year' then coalesce(p.recurring_interval_count, 1) else 0 end,
        months => case when p.recurring_interval = 'month' then coalesce(p.recurring_interval_count, 1) else 0 end,
        weeks => case when p.recurring_interval = 'week' then coalesce(p.recurring_interval_count, 1) else 0 end,
        days => case when p.recurring_interval = 'day' then coalesce(p.recurring_interval_count, 1) else 0 end)) at time zone 'UTC')`;
const RENEWS_IN_FULL = `(p.recurring_interval = 'year' or (p.recurring_interval = 'month' and p.recurring_interval_count >= ${LONG_TERM_MONTHS}))
  and ${LASTS_ITS_NEXT_PERIOD}`;

/**
 * A subscription that renews for a long term: active (a trial's end is a first charge,
 * not a renewal), not set to end at its period's end, and with an item that renews in
 * full (RENEWS_IN_FULL). `s` is stripe_subscriptions.
 */
const RENEWS_LONG_TERM = `s.status = 'active' and s.ended_at is null and not s.cancel_at_period_end
  and exists (select 1 from stripe_subscription_items i join stripe_prices p on p.workspace_id = i.workspace_id and p.id = i.price_id
               where i.workspace_id = s.workspace_id and i.subscription_id = s.id and ${RENEWS_IN_FULL})`;

/**
 * Opens a note for each of the workspace's long-term subscriptions that renew between
 * `from` and `until`, once per renewal (unique on the subscription and its renewal
 * time, but for notes that ended with the play off: migration 028), for customers not in dunning and without an open churn save or expansion
 * pitch (those plays are writing to them; the scan tries again at its next look).
 * Answers how many renew in the window and the notes opened.
 */
export async function openRenewalNotes(db: Db, workspaceId: string, opts: { now: Date; from: Date; until: Date }): Promise<{ renewing: number; opened: RenewalNote[] }> {
  const { rows: renewing } = await db.raw<{ rows: { id: string; customer_id: string; current_period_end: Date }[] }>(
    `select s.id, s.customer_id, s.current_period_end from stripe_subscriptions s
      where s.workspace_id = :ws and s.current_period_end > :from and s.current_period_end <= :until and ${RENEWS_LONG_TERM}`,
    { ws: workspaceId, from: opts.from, until: opts.until },
  );
  if (!renewing.length) return { renewing: 0, opened: [] };
  const rows = renewing.map((s) => {
    const id = randomUUID();
    return { id, customer_id: s.customer_id, subscription_id: s.id, renews_at: s.current_period_end.toISOString(), workflow_id: renewalNoteWorkflowId(workspaceId, id) };
  });
  const result = await db.raw<{ rows: NoteRow[] }>(
    `insert into renewal_notes (id, workspace_id, customer_id, subscription_id, renews_at, workflow_id, started_at)
     select c.id, :ws, c.customer_id, c.subscription_id, c.renews_at, c.workflow_id, :now
     from jsonb_to_recordset(:rows::jsonb) as c(id uuid, customer_id text, subscription_id text, renews_at timestamptz, workflow_id text)
     where not exists (select 1 from dunning_cases d where d.workspace_id = :ws and d.customer_id = c.customer_id and d.ended_at is null)
       and not exists (select 1 from churn_saves x where x.workspace_id = :ws and x.customer_id = c.customer_id and x.ended_at is null)
       and not exists (select 1 from expansion_pitches x where x.workspace_id = :ws and x.customer_id = c.customer_id and x.ended_at is null)
     -- Once per renewal (migration 028), and one open note per customer (migration 027): a customer with two renewing subscriptions gets the second after the first.
     on conflict do nothing
     returning *`,
    { ws: workspaceId, now: opts.now, rows: JSON.stringify(rows) },
  );
  return { renewing: renewing.length, opened: result.rows.map(toNote) };
}

/**
 * Where a renewing subscription stands now: still set to renew at `renewsAt`; renewed
 * (a period began at or after it); moved (its period now ends at another time: a
 * plan or billing change, and the scan writes about the new date); or not renewing.
 */
export async function renewalState(db: Db, workspaceId: string, subscriptionId: string, renewsAt: Date): Promise<'renewing' | 'renewed' | 'moved' | 'not_renewing'> {
  const { rows } = await db.raw<{ rows: { long_term: boolean; current_period_start: Date | null; current_period_end: Date | null }[] }>(
    `select (${RENEWS_LONG_TERM}) as long_term, s.current_period_start, s.current_period_end from stripe_subscriptions s where s.workspace_id = ? and s.id = ?`,
    [workspaceId, subscriptionId],
  );
  const row = rows[0];
  if (row?.current_period_start && row.current_period_start.getTime() >= renewsAt.getTime()) return 'renewed';
  if (!row?.long_term) return 'not_renewing';
  return row.current_period_end?.getTime() === renewsAt.getTime() ? 'renewing' : 'moved';
}

/** The item a long-term subscription renews by: its product and how often it is billed. */
export interface LongTermItem {
  productId: string;
  /** Null when the mirror holds no such product: no name to give a customer. */
  productName: string | null;
  interval: 'month' | 'year';
  intervalCount: number;
}

/**
 * The subscription's long-term item that renews in full (RENEWS_IN_FULL, the items
 * RENEWS_LONG_TERM counts: one whose next period runs past the subscription's
 * `cancel_at` is not what renews): of the longest period, a fixed one before one
 * billed on use, then the dearest, by what it charges a period for its quantity
 * (domain/price-amount.ts: tiers and packages priced as Stripe bills them), one of
 * an amount not known last: what the note prices the renewal by, whether or not its
 * amount is known (a customer's plan, by contrast, is their item worth most a month,
 * which a monthly add-on can be). Null when the subscription has none such.
 */
export async function renewingItem(db: Db, workspaceId: string, subscriptionId: string): Promise<LongTermItem | null> {
  const rows = await db('stripe_subscription_items as i')
    .join('stripe_prices as p', function () {
      this.on('p.workspace_id', 'i.workspace_id').andOn('p.id', 'i.price_id');
    })
    .join('stripe_subscriptions as s', function () {
      this.on('s.workspace_id', 'i.workspace_id').andOn('s.id', 'i.subscription_id');
    })
    .leftJoin('stripe_products as pr', function () {
      this.on('pr.workspace_id', 'p.workspace_id').andOn('pr.id', 'p.product_id');
    })
    .where({ 'i.workspace_id': workspaceId, 'i.subscription_id': subscriptionId })
    .whereRaw(`(${RENEWS_IN_FULL})`)
    .select<(PriceTermRow & { id: string; quantity: number | null; product_id: string; product_name: string | null; recurring_interval: 'month' | 'year'; recurring_interval_count: number | null })[]>(
      'i.id',
      'i.quantity',
      ...PRICE_TERM_COLUMNS,
      'p.product_id',
      'pr.name as product_name',
      'p.recurring_interval',
      'p.recurring_interval_count',
    );
  const ranked = rows.map((r) => {
    const intervalCount = r.recurring_interval_count ?? 1;
    return {
      item: { productId: r.product_id, productName: r.product_name, interval: r.recurring_interval, intervalCount },
      id: r.id,
      months: (r.recurring_interval === 'year' ? 12 : 1) * intervalCount,
      metered: r.recurring_usage_type === 'metered',
      amount: periodAmount(priceTerms(r), r.quantity ?? 1) ?? -1,
    };
  });
  ranked.sort((a, b) => b.months - a.months || Number(a.metered) - Number(b.metered) || b.amount - a.amount || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ranked[0]?.item ?? null;
}

/**
 * What the subscription renews at `renewsAt` for a `period` (its renewing item's:
 * domain/renewal-price.ts), from every item the mirror holds for it, with the
 * discounts still attached, the subscription's and each item's own (and its
 * customer's, which bills it where none of its own runs). Null when it is not
 * mirrored or cannot be priced.
 */
export async function renewalQuote(db: Db, workspaceId: string, subscriptionId: string, renewsAt: Date, period: { interval: string; intervalCount: number }): Promise<RenewalPrice | null> {
  const [sub, items] = await Promise.all([
    db('stripe_subscriptions as s')
      .leftJoin('stripe_customers as c', function () {
        this.on('c.workspace_id', 's.workspace_id').andOn('c.id', 's.customer_id');
      })
      .where({ 's.workspace_id': workspaceId, 's.id': subscriptionId })
      .first<{ discounts: unknown; customer_discount: unknown } | undefined>('s.discounts', 'c.discount as customer_discount'),
    db('stripe_subscription_items as i')
      .join('stripe_prices as p', function () {
        this.on('p.workspace_id', 'i.workspace_id').andOn('p.id', 'i.price_id');
      })
      .join('stripe_subscriptions as s', function () {
        this.on('s.workspace_id', 'i.workspace_id').andOn('s.id', 'i.subscription_id');
      })
      .where({ 'i.workspace_id': workspaceId, 'i.subscription_id': subscriptionId })
      .select<(PriceTermRow & { quantity: number | null; item_discounts: unknown; product_id: string; currency: string; recurring_interval: string | null; recurring_interval_count: number | null; cut_short: boolean })[]>(
        ...PRICE_TERM_COLUMNS,
        'i.quantity',
        'i.discounts as item_discounts',
        'p.product_id',
        'p.currency',
        'p.recurring_interval',
        'p.recurring_interval_count',
        db.raw(`not (${LASTS_ITS_NEXT_PERIOD}) as cut_short`),
      ),
  ]);
  if (!sub) return null;
  return renewalPrice(
    items.map((i) => ({
      ...priceTerms(i),
      quantity: i.quantity,
      currency: i.currency.trim(),
      interval: i.recurring_interval,
      intervalCount: i.recurring_interval_count,
      cutShort: i.cut_short,
      product: i.product_id,
      // Null for an item stored before migration 035: read as none (the common case) until its subscription's next event or sync writes them.
      discounts: i.item_discounts ?? [],
    })),
    sub.discounts,
    renewsAt,
    period,
    sub.customer_discount,
  );
}
