import type { Db } from './knex';
import { customersActivity } from './product-signals';
import { backtestReport, checkpointTimes, type BacktestCheckpoint, type BacktestReport } from '../domain/churn-backtest';
import { churnRisk, CONTRACTION_WINDOW_DAYS, FIXED_TERM_NOTICE_DAYS, type ChurnRisk, type RiskInputs } from '../domain/churn-risk';
import { groupBy } from '../domain/group-by';
import type { CustomerActivity } from '../domain/product-activity';
import { DAY_MS } from '../domain/durations';

/**
 * The churn risk (domain/churn-risk.ts) of the workspace's customers with a live
 * subscription, or of those of them in `only`. Customers with none (never paid, or
 * gone) are not in the map: there is no one left to save.
 */
export async function churnRisks(db: Db, workspaceId: string, now: Date, only?: string[], activityRead?: Map<string, CustomerActivity>): Promise<Map<string, ChurnRisk>> {
  const inputs = await riskInputs(db, workspaceId, { at: now, present: true }, only, activityRead);
  return new Map([...inputs].map(([id, i]) => [id, churnRisk(i, now)]));
}

/**
 * One customer's risk now, from their activity the caller has already read
 * (customerActivity); undefined without a live subscription.
 */
export async function churnRiskOf(db: Db, workspaceId: string, customerId: string, now: Date, activity: CustomerActivity): Promise<ChurnRisk | undefined> {
  // A customer the product never sent a signal about has no activity, as customersActivity leaves them out.
  const risks = await churnRisks(db, workspaceId, now, [customerId], new Map(activity.lastSignalAt ? [[customerId, activity]] : []));
  return risks.get(customerId);
}

/**
 * The risk each customer live at `at` had then, from what Wysera knows that happened
 * by then (for the backtest): the present's subscription statuses (past due) are
 * not read, and a cancellation counts from when it was asked for.
 */
export async function churnRisksAt(db: Db, workspaceId: string, at: Date, only?: string[]): Promise<Map<string, ChurnRisk>> {
  const inputs = await riskInputs(db, workspaceId, { at, present: false }, only);
  return new Map([...inputs].map(([id, i]) => [id, churnRisk(i, at)]));
}

/**
 * The inputs as of `at`. `present`: `at` is now, so the subscriptions' current state
 * (past due, a cancellation whose request time Stripe did not give) holds at it.
 */
/**
 * Subscriptions that bill at some time between `from` and `to`: begun by `to` and not
 * ended by `from` (`from` = `to`: live at that time). Incomplete ones never billed;
 * paused ones do not now.
 */
function liveSubscriptions(db: Db, workspaceId: string, to: Date, from: Date) {
  return (
    db('stripe_subscriptions')
      .where({ workspace_id: workspaceId })
      .whereNotIn('status', ['incomplete', 'incomplete_expired', 'paused'])
      // A subscription mirrored without its start (no such field in what brought it) counts as begun.
      .whereRaw("coalesce(start_date, created, '-infinity') <= ?", [to])
      .where((q) => void q.whereNull('ended_at').orWhere('ended_at', '>', from))
  );
}

/** `activityRead`: the customers' activity as of `at` when the caller has read it already (customersActivity). */
async function riskInputs(db: Db, workspaceId: string, when: { at: Date; present: boolean }, only?: string[], activityRead?: Map<string, CustomerActivity>): Promise<Map<string, RiskInputs>> {
  const { at, present } = when;
  // Live at `at`: started by then and not ended yet. A cancellation was scheduled
  // when it was asked for (canceled_at) before the end: asked for at the end, it
  // was an immediate one, which no one saw coming. One asked for as the subscription
  // began is a fixed term the customer signed up for, not a decision to leave: it
  // counts only once its end is FIXED_TERM_NOTICE_DAYS away, when it ends unless
  // they sign again.
  const scheduled = `(cancel_at_period_end or cancel_at is not null or ended_at is not null)
    and coalesce(canceled_at <= :at, :present) and (ended_at is null or canceled_at < ended_at)
    and not coalesce(canceled_at <= coalesce(start_date, created) + interval '1 day'
      and coalesce(ended_at, cancel_at, current_period_end) > :at::timestamptz + make_interval(days => :notice), false)`;
  const live = liveSubscriptions(db, workspaceId, at, at)
    .groupBy('customer_id')
    .select<{ customer_id: string; cancels_at: Date | null; all_end: boolean; past_due: boolean }[]>(
      'customer_id',
      // The last end of those set to end: when the customer goes, if every one is.
      db.raw(`max(coalesce(ended_at, cancel_at, current_period_end)) filter (where ${scheduled}) as cancels_at`, { at, present, notice: FIXED_TERM_NOTICE_DAYS }),
      db.raw(`bool_and(${scheduled}) as all_end`, { at, present, notice: FIXED_TERM_NOTICE_DAYS }),
      db.raw("bool_or(status in ('past_due', 'unpaid')) and ? as past_due", [present]),
    );
  if (only) void live.whereRaw('customer_id = any(?)', [only]);
  const subscriptions = await live;
  const ids = subscriptions.map((s) => s.customer_id);
  if (!ids.length) return new Map();
  const mine = (table: string) => db(table).where('workspace_id', workspaceId).whereRaw('customer_id = any(?)', [ids]);
  const [dunnings, contractions, activity, nps] = await Promise.all([
    mine('dunning_cases')
      .where('failed_at', '<=', at)
      .where((q) => void q.whereNull('ended_at').orWhere('ended_at', '>', at))
      .groupBy('customer_id')
      .select<{ customer_id: string; since: Date }[]>('customer_id', db.raw('min(failed_at) as since')),
    mine('analytics_movements')
      .where({ kind: 'contraction' })
      .where('at', '>', new Date(at.getTime() - CONTRACTION_WINDOW_DAYS * DAY_MS))
      .where('at', '<=', at)
      .groupBy('customer_id')
      .select<{ customer_id: string; at: Date }[]>('customer_id', db.raw('max(at) as at')),
    activityRead ?? customersActivity(db, workspaceId, ids, at),
    mine('nps_responses')
      .where('at', '<=', at)
      .distinctOn('customer_id')
      .orderBy([{ column: 'customer_id' }, { column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .select<{ customer_id: string; score: number }[]>('customer_id', 'score'),
  ]);
  const failing = new Map(dunnings.map((d) => [d.customer_id, d.since.toISOString()]));
  const contracted = new Map(contractions.map((c) => [c.customer_id, c.at.toISOString()]));
  const answers = new Map(nps.map((n) => [n.customer_id, n.score]));
  return new Map(
    subscriptions.map((s) => {
      const since = failing.get(s.customer_id);
      return [
        s.customer_id,
        {
          cancellation: s.cancels_at ? { endsAt: s.cancels_at.toISOString(), all: s.all_end } : null,
          paymentFailing: since ? { since } : s.past_due ? { since: null } : null,
          contractedAt: contracted.get(s.customer_id) ?? null,
          activity: activity.get(s.customer_id) ?? null,
          latestNps: answers.get(s.customer_id) ?? null,
        },
      ];
    }),
  );
}

/** A backtest scores at most this many customers: precision and recall are ratios, which a sample this size estimates well. */
export const BACKTEST_SAMPLE = 2_000;

/**
 * The backtest (domain/churn-backtest.ts): the risk as of a checkpoint every
 * `stepDays` over the last `days`, against the churns the analytics recorded. A
 * workspace with more customers live in that span than BACKTEST_SAMPLE is backtested
 * on a sample of them (the same one every time: by a hash of their ids), since each
 * checkpoint scores every customer it covers.
 */
export async function churnBacktest(db: Db, workspaceId: string, opts: { days: number; stepDays: number; horizonDays: number; sample?: number; threshold?: number }, now: Date): Promise<BacktestReport & { customers: number; sampled: number }> {
  const times = checkpointTimes(now, opts.days, opts.stepDays);
  const live = await liveSubscriptions(db, workspaceId, now, times[0]!)
    .groupBy('customer_id')
    .orderByRaw('md5(customer_id)')
    .pluck<string[]>('customer_id');
  const size = opts.sample ?? BACKTEST_SAMPLE;
  const sample = live.slice(0, size);
  const checkpoints: BacktestCheckpoint[] = [];
  // One at a time: each is a handful of grouped reads over the workspace.
  for (const at of times) {
    const risks = await churnRisksAt(db, workspaceId, at, live.length > size ? sample : undefined);
    checkpoints.push({ at: at.toISOString(), scores: new Map([...risks].map(([id, r]) => [id, r.score])) });
  }
  const rows = await db('analytics_movements')
    .where({ workspace_id: workspaceId, kind: 'churn' })
    .where('at', '>', times[0]!)
    .where('at', '<=', now)
    .orderBy('at')
    .select<{ customer_id: string; at: Date }[]>('customer_id', 'at');
  const churns = new Map([...groupBy(rows, (r) => r.customer_id)].map(([id, rs]) => [id, rs.map((r) => r.at.toISOString())]));
  const inSample = new Set(sample);
  for (const id of churns.keys()) if (!inSample.has(id)) churns.delete(id);
  return { customers: live.length, sampled: sample.length, ...backtestReport(checkpoints, churns, opts.horizonDays, now, opts.threshold) };
}
