import { Router } from 'express';
import { z } from 'zod';
import { recomputeWorkspace, recordNpsAnswer } from '../activities/analytics';
import type { Knex } from '../db/knex';
import { loadAnalyticsSettings, storeAnalyticsSettings, upsertExchangeRates } from '../db/analytics';
import { appendAudit } from '../db/audit';
import { analyticsSettingsSchema } from '../domain/mrr';
import { senderText } from '../domain/product-signals';
import { authOf, requireOperator, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';

const npsSignal = z.strictObject({
  /** The sender's id for the answer: sent again, the answer is counted once. */
  id: senderText().optional(),
  customerId: senderText(),
  score: z.number().int().min(0).max(10),
  at: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
});

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
 * manual recompute, NPS answers from the signals API (members and up), and the
 * exchange rates every workspace converts with (operator: market data, not tenant data).
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

  router.post('/workspaces/:workspaceId/signals/nps', requireWorkspaceRole('member'), async (req, res) => {
    const auth = authOf(res);
    const input = parseOr400(npsSignal, req.body, 'NPS answer');
    const { id, duplicate, same } = await recordNpsAnswer(db, auth.workspaceId, { customerId: input.customerId, score: input.score, at: input.at ?? new Date() }, input.id);
    if (!same) throw new HttpError(409, `NPS answer id ${input.id ?? ''} is already another answer's (another customer or score): give each answer its own id`);
    res.status(duplicate ? 200 : 201).json({ id, customerId: input.customerId, score: input.score, ...(duplicate ? { duplicate: true } : {}) });
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
