import type { Db } from './knex';
import { customersActivity } from './product-signals';
import { churnRisk, CONTRACTION_WINDOW_DAYS, type ChurnRisk, type RiskInputs } from '../domain/churn-risk';

const DAY_MS = 86_400_000;
/** Subscription statuses that still bill: a customer with one of these can still be saved. */
const LIVE = ['active', 'trialing', 'past_due', 'unpaid'];

/**
 * The churn risk (domain/churn-risk.ts) of the workspace's customers with a live
 * subscription, or of those of them in `only`. Customers with none (never paid, or
 * gone) are not in the map: there is no one left to save.
 */
export async function churnRisks(db: Db, workspaceId: string, now: Date, only?: string[]): Promise<Map<string, ChurnRisk>> {
  const inputs = await riskInputs(db, workspaceId, now, only);
  return new Map([...inputs].map(([id, i]) => [id, churnRisk(i, now)]));
}

async function riskInputs(db: Db, workspaceId: string, now: Date, only?: string[]): Promise<Map<string, RiskInputs>> {
  const live = db('stripe_subscriptions')
    .where({ workspace_id: workspaceId })
    .whereNull('ended_at')
    .whereIn('status', LIVE)
    .groupBy('customer_id')
    .select<{ customer_id: string; cancels_at: Date | null; past_due: boolean }[]>(
      'customer_id',
      db.raw('min(coalesce(cancel_at, current_period_end)) filter (where cancel_at_period_end or cancel_at is not null) as cancels_at'),
      db.raw("bool_or(status in ('past_due', 'unpaid')) as past_due"),
    );
  if (only) void live.whereRaw('customer_id = any(?)', [only]);
  const subscriptions = await live;
  const ids = subscriptions.map((s) => s.customer_id);
  if (!ids.length) return new Map();
  const mine = (table: string) => db(table).where('workspace_id', workspaceId).whereRaw('customer_id = any(?)', [ids]);
  const [dunnings, contractions, activity, nps] = await Promise.all([
    mine('dunning_cases').whereNull('outcome').groupBy('customer_id').select<{ customer_id: string; since: Date }[]>('customer_id', db.raw('min(failed_at) as since')),
    mine('analytics_movements')
      .where({ kind: 'contraction' })
      .where('at', '>', new Date(now.getTime() - CONTRACTION_WINDOW_DAYS * DAY_MS))
      .where('at', '<=', now)
      .groupBy('customer_id')
      .select<{ customer_id: string; at: Date }[]>('customer_id', db.raw('max(at) as at')),
    customersActivity(db, workspaceId, ids, now),
    mine('nps_responses')
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
          cancellationScheduledFor: s.cancels_at ? s.cancels_at.toISOString() : null,
          paymentFailing: since ? { since } : s.past_due ? { since: null } : null,
          contractedAt: contracted.get(s.customer_id) ?? null,
          activity: activity.get(s.customer_id) ?? null,
          latestNps: answers.get(s.customer_id) ?? null,
        },
      ];
    }),
  );
}
