import { Router } from 'express';
import { z } from 'zod';
import { churnBacktest } from '../db/churn-risk';
import type { Knex } from '../db/knex';
import { authOf, requireWorkspaceRole } from './auth';
import { parseOr400 } from './errors';

const backtestQuery = z
  .strictObject({
    days: z.coerce.number().int().min(7).max(730).default(180),
    stepDays: z.coerce.number().int().min(1).max(31).default(7),
    horizonDays: z.coerce.number().int().min(7).max(180).default(90),
  })
  // checkpointTimes places one now and one every stepDays back over days.
  .refine((q) => Math.floor(q.days / q.stepDays) + 1 <= 120, { message: 'at most 120 checkpoints: raise stepDays or lower days', path: ['stepDays'] });

/**
 * `GET /workspaces/:workspaceId/churn-risk/backtest` (viewer+): how the churn risk
 * would have done on the workspace's history (db/churn-risk.ts). It cites no amount.
 */
export function churnRiskRouter({ db }: { db: Knex }): Router {
  const router = Router();
  router.get('/workspaces/:workspaceId/churn-risk/backtest', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const q = parseOr400(backtestQuery, req.query, 'query');
    res.json({ days: q.days, stepDays: q.stepDays, ...(await churnBacktest(db, workspaceId, q, new Date())) });
  });
  return router;
}
