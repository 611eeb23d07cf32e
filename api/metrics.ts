import { Router, type Response } from 'express';
import { z } from 'zod';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import { withContacts } from './customer-contacts';
import { cohortMembers, listMovements, loadAggregates, loadAnalyticsSettings, payingCustomersAt } from '../db/analytics';
import {
  GRANULARITIES,
  Ledger,
  MOVEMENT_KINDS,
  churnRateSeries,
  cohortCurves,
  ltvSeries,
  monthLabel,
  monthOf,
  monthStart,
  movementsSeries,
  mrrSeries,
  npsByCohort,
  parseMonth,
  quickRatioSeries,
  retentionSeries,
  type MonthIndex,
} from '../domain/mrr';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { metricsAdminRouter } from './metrics-admin';
import { toCsv } from './metrics-csv';
import { hidesMrr, redactionOf } from './redaction';

export const METRICS = ['mrr', 'movements', 'cohorts', 'retention', 'grr', 'nrr', 'arpa', 'ltv', 'churn-rate', 'quick-ratio', 'nps'] as const;
type Metric = (typeof METRICS)[number];

const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM');
const MAX_MONTHS = 240;

const seriesQuery = z
  .strictObject({
    from: month.optional(),
    to: month.optional(),
    granularity: z.enum(GRANULARITIES).default('month'),
    window: z.enum(['month', 'trailing12']).default('month'),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] });

const drilldownQuery = z.strictObject({
  period: z.string().regex(/^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$/, 'a period as YYYY-MM, YYYY-Qn or YYYY').optional(),
  cohort: month.optional(),
  kind: z.enum(MOVEMENT_KINDS).optional(),
  /** Only this customer's movements. */
  customerId: z.string().trim().min(1).max(255).optional(),
  /** For grr, nrr and retention: the movements of the trailing twelve months up to `period`. */
  window: z.enum(['month', 'trailing12']).default('month'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  format: z.enum(['json', 'csv']).default('json'),
});

const metricParam = z.enum(METRICS);

/** [first, last] months of a period label. */
function periodMonths(label: string): [MonthIndex, MonthIndex] {
  const quarter = /^(\d{4})-Q([1-4])$/.exec(label);
  if (quarter) {
    const first = Number(quarter[1]) * 12 + (Number(quarter[2]) - 1) * 3;
    return [first, first + 2];
  }
  if (/^\d{4}$/.test(label)) return [Number(label) * 12, Number(label) * 12 + 11];
  const m = parseMonth(label);
  return [m, m];
}

function send(res: Response, format: 'json' | 'csv', body: Record<string, unknown>, rows: Record<string, unknown>[], filename: string) {
  if (format === 'csv') {
    res.type('text/csv').attachment(`${filename}.csv`).send(toCsv(rows));
    return;
  }
  res.json(body);
}

/**
 * The MRR dashboard's figures (docs/metrics.md), read from the precomputed analytics
 * tables: `GET /workspaces/:workspaceId/metrics/:metric` with from/to (YYYY-MM),
 * granularity and `format=csv`, and `.../:metric/drilldown` for the customers and
 * movements behind one figure. Viewers and members get money figures as null.
 */
export function metricsRouter({ db, keyring }: { db: Knex; keyring: Keyring }): Router {
  const router = Router();
  // Settings, recompute, NPS answers and rates; first, so /metrics/settings is not read as a metric.
  router.use(metricsAdminRouter({ db }));

  router.get('/workspaces/:workspaceId/metrics/:metric', requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const metric: Metric = parseOr400(metricParam, req.params.metric, 'metric');
    const q = parseOr400(seriesQuery, req.query, 'query');
    const to = q.to ? parseMonth(q.to) : monthOf(Date.now());
    const from = q.from ? parseMonth(q.from) : to - 11;
    if (to - from + 1 > MAX_MONTHS) throw new HttpError(400, `invalid query: from: at most ${MAX_MONTHS} months from from to to`);
    if (q.granularity !== 'month' && ['grr', 'nrr', 'retention', 'ltv'].includes(metric)) {
      throw new HttpError(400, `invalid query: granularity: ${metric} is monthly; use granularity=month`);
    }
    const [settings, agg] = await Promise.all([loadAnalyticsSettings(db, auth.workspaceId), loadAggregates(db, auth.workspaceId)]);
    const ledger = new Ledger(agg);
    const window = q.window === 'trailing12' ? 12 : 1;
    let points: Record<string, unknown>[];
    let rows: Record<string, unknown>[] | undefined;
    switch (metric) {
      case 'mrr':
        points = mrrSeries(ledger, from, to, q.granularity).map(({ period, mrr, customers }) => ({ period, mrr, customers }));
        break;
      case 'arpa':
        points = mrrSeries(ledger, from, to, q.granularity).map(({ period, arpa, customers }) => ({ period, arpa, customers }));
        break;
      case 'movements':
        points = movementsSeries(ledger, from, to, q.granularity).map((p) => ({ ...p }));
        break;
      case 'churn-rate':
        points = churnRateSeries(ledger, from, to, q.granularity).map((p) => ({ ...p }));
        break;
      case 'quick-ratio':
        points = quickRatioSeries(ledger, from, to, q.granularity).map((p) => ({ ...p }));
        break;
      case 'ltv':
        points = ltvSeries(ledger, from, to).map((p) => ({ ...p }));
        break;
      case 'retention':
        points = retentionSeries(ledger, from, to, window).map((p) => ({ ...p }));
        break;
      case 'grr':
        points = retentionSeries(ledger, from, to, window).map(({ period, startMrr, retainedMrr, grr }) => ({ period, startMrr, retainedMrr, grr }));
        break;
      case 'nrr':
        points = retentionSeries(ledger, from, to, window).map(({ period, startMrr, endMrr, nrr }) => ({ period, startMrr, endMrr, nrr }));
        break;
      case 'cohorts': {
        const curves = cohortCurves(agg, from, to, Math.max(to, monthOf(Date.now())));
        points = curves.map((c) => ({ ...c }));
        rows = curves.flatMap((c) => c.ages.map((a) => ({ cohort: c.cohort, cohortCustomers: c.customers, initialMrr: c.initialMrr, ...a })));
        break;
      }
      case 'nps':
        points = npsByCohort(agg, from, to).map((p) => ({ ...p }));
        break;
    }
    const redaction = redactionOf(res);
    const redacted = redaction.active;
    const shown = redaction.apply(points);
    const csvRows = rows ? redaction.apply(rows) : shown;
    send(
      res,
      q.format,
      {
        workspaceId: auth.workspaceId,
        metric,
        currency: settings.reportingCurrency,
        from: monthLabel(from),
        to: monthLabel(to),
        granularity: q.granularity,
        ...(['grr', 'nrr', 'retention'].includes(metric) ? { window: q.window } : {}),
        redacted,
        points: shown,
      },
      csvRows,
      `${metric}-${auth.workspaceId}`,
    );
  });

  router.get('/workspaces/:workspaceId/metrics/:metric/drilldown', requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const metric: Metric = parseOr400(metricParam, req.params.metric, 'metric');
    const q = parseOr400(drilldownQuery, req.query, 'query');
    const redaction = redactionOf(res);
    const redacted = redaction.active;
    const base = { workspaceId: auth.workspaceId, metric, redacted };
    const order = hidesMrr(redaction) ? 'id' : 'mrr';
    if (metric === 'cohorts' || metric === 'nps') {
      if (!q.cohort) throw new HttpError(400, 'invalid query: cohort: required for the cohort drill-down (YYYY-MM)');
      const customers = await withContacts(db, keyring, auth.workspaceId, await cohortMembers(db, auth.workspaceId, q.cohort, q.limit, order));
      const shown = redaction.apply(customers) as Record<string, unknown>[];
      send(res, q.format, { ...base, cohort: q.cohort, customers: shown }, shown, `${metric}-${q.cohort}`);
      return;
    }
    if (!q.period) throw new HttpError(400, 'invalid query: period: required (YYYY-MM, YYYY-Qn or YYYY)');
    const [first, last] = periodMonths(q.period);
    if (metric === 'mrr' || metric === 'arpa' || metric === 'ltv') {
      const customers = await withContacts(db, keyring, auth.workspaceId, await payingCustomersAt(db, auth.workspaceId, new Date(monthStart(last + 1)), q.limit, order));
      const shown = redaction.apply(customers) as Record<string, unknown>[];
      send(res, q.format, { ...base, period: q.period, customers: shown }, shown, `${metric}-${q.period}`);
      return;
    }
    // Movement-based figures: the movements of the period. Retention leaves out new
    // business and reactivations, as its formula does.
    const retention = metric === 'grr' || metric === 'nrr' || metric === 'retention';
    if (retention && (q.kind === 'new' || q.kind === 'reactivation')) {
      throw new HttpError(400, `invalid query: kind: ${q.kind} movements are not part of ${metric}`);
    }
    const since = retention && q.window === 'trailing12' ? last - 11 : first;
    const moved = (await listMovements(db, auth.workspaceId, { from: new Date(monthStart(since)), to: new Date(monthStart(last + 1)), kind: q.kind, customerIds: q.customerId ? [q.customerId] : undefined, limit: q.limit }))
      .filter((m) => !retention || (m.kind !== 'new' && m.kind !== 'reactivation'))
      .map((m) => ({ customerId: m.customerId, at: m.at.toISOString(), kind: m.kind, amount: m.amount, mrrBefore: m.mrrBefore, mrrAfter: m.mrrAfter, original: m.original }));
    const movements = await withContacts(db, keyring, auth.workspaceId, moved);
    const shown = redaction.apply(movements) as Record<string, unknown>[];
    send(res, q.format, { ...base, period: q.period, movements: shown }, shown, `${metric}-${q.period}`);
  });

  return router;
}
