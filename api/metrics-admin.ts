import { Router } from 'express';
import { z } from 'zod';
import { recomputeWorkspace } from '../activities/analytics';
import type { Knex } from '../db/knex';
import { loadAnalyticsSettings, storeAnalyticsSettings, upsertExchangeRates } from '../db/analytics';
import { appendAudit } from '../db/audit';
import { analyticsSettingsSchema } from '../domain/mrr';
import { authOf, requireOperator, requireWorkspaceRole } from './auth';
import { parseOr400 } from './errors';

const currency = z.string().regex(/^[a-zA-Z]{3}$/, 'a three-letter ISO 4217 currency code').transform((c) => c.toLowerCase());
const exchangeRates = z.strictObject({
  rates: z
    .array(
      z.strictObject({
        currency,
        on: z.iso.date(),
        rate: z.number().positive().finite(),
      }),
    )
    .min(1)
    .max(10_000),
});

/**
 * Managing the metrics: analytics settings (owners; recomputes the workspace), a
 * manual recompute, and the exchange rates every workspace converts with (operator: market data, not tenant data).
 */
export function metricsAdminRouter({ db }: { db: Knex }): Router {
  const router = Router();

  router.get('/workspaces/:workspaceId/metrics/settings', requireWorkspaceRole('viewer'), async (_req, res) => {
    res.json({ settings: await loadAnalyticsSettings(db, authOf(res).workspaceId) });
  });

  router.put('/workspaces/:workspaceId/metrics/settings', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const settings = parseOr400(analyticsSettingsSchema, req.body, 'analytics settings');
    const before = await loadAnalyticsSettings(db, auth.workspaceId);
    await db.transaction(async (trx) => {
      await storeAnalyticsSettings(trx, auth.workspaceId, settings);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'analytics.settings_changed', targetType: 'workspace', targetId: auth.workspaceId, before, after: settings });
    });
    // Every figure depends on the settings: recompute the whole workspace.
    const recompute = await recomputeWorkspace(db, auth.workspaceId);
    res.json({ settings, recompute });
  });

  router.post('/workspaces/:workspaceId/metrics/recompute', requireWorkspaceRole('owner'), async (_req, res) => {
    res.json(await recomputeWorkspace(db, authOf(res).workspaceId));
  });

  router.put('/exchange-rates/:reportingCurrency', requireOperator, async (req, res) => {
    const reporting = parseOr400(currency, req.params.reportingCurrency, 'reporting currency');
    const { rates } = parseOr400(exchangeRates, req.body, 'exchange rates');
    await db.transaction(async (trx) => {
      await upsertExchangeRates(trx, reporting, rates);
      await appendAudit(trx, { workspaceId: null, actor: 'operator', action: 'analytics.exchange_rates_stored', targetType: 'exchange_rates', targetId: reporting, after: { count: rates.length } });
    });
    res.json({ reportingCurrency: reporting, stored: rates.length, note: 'recompute workspaces reporting in this currency to apply them' });
  });

  return router;
}
