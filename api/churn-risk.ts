import { Router } from 'express';
import { Client, type Connection } from '@temporalio/client';
import { z } from 'zod';
import { scanChurnRadar } from '../activities/churn-radar';
import { churnBacktest } from '../db/churn-risk';
import { listChurnSaves } from '../db/churn-saves';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import { withContacts } from './customer-contacts';
import { getPlaySettings } from '../db/play-settings';
import { riskAsShown, riskLevel } from '../domain/churn-risk';
import { CHURN_PLAY, churnSettings } from '../domain/churn-save';
import type { Logger } from '../platform/logger';
import { authOf, requireWorkspaceRole } from './auth';
import { parseOr400 } from './errors';
import { outreachListOptions, playScanRoute } from './play-scan-route';
import { redactionOf } from './redaction';

const backtestQuery = z
  .strictObject({
    days: z.coerce.number().int().min(7).max(730).default(180),
    stepDays: z.coerce.number().int().min(1).max(31).default(7),
    horizonDays: z.coerce.number().int().min(7).max(180).default(90),
    /** A score to report besides the levels; the workspace's churn radar threshold by default. */
    threshold: z.coerce.number().int().min(1).max(100).optional(),
  })
  // checkpointTimes places one now and one every stepDays back over days.
  .refine((q) => Math.floor(q.days / q.stepDays) + 1 <= 120, { message: 'at most 120 checkpoints: raise stepDays or lower days', path: ['stepDays'] });

/**
 * `GET /workspaces/:workspaceId/churn-saves` (viewer+): the churn radar's saves,
 * newest first, with the score and reasons that started each (hidden as the
 * customer's risk is for the caller's role), the intervention and the outcome.
 *
 * `POST /workspaces/:workspaceId/churn-radar/scan` (owner): the radar's look at the
 * workspace now, instead of at its next hourly scan (activities/churn-radar.ts).
 *
 * `GET /workspaces/:workspaceId/churn-risk/backtest` (viewer+): how the churn risk
 * would have done on the workspace's history (db/churn-risk.ts), at the two levels and
 * at the churn radar's threshold (or `threshold`). It cites no amount.
 */
export function churnRiskRouter({ db, keyring, temporal, namespace, taskQueue, log }: { db: Knex; keyring: Keyring; temporal: Connection; namespace: string; taskQueue: string; log: Logger }): Router {
  const router = Router();
  const client = new Client({ connection: temporal, namespace });
  playScanRoute(router, { db, client, taskQueue, log }, {
    path: 'churn-radar/scan',
    play: CHURN_PLAY,
    name: 'the churn radar',
    scan: scanChurnRadar,
    answer: ({ atRisk, opened, started, swept }) => ({ atRisk, opened, started, swept }),
  });
  router.get('/workspaces/:workspaceId/churn-risk/backtest', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const q = parseOr400(backtestQuery, req.query, 'query');
    // The radar's own threshold gets a row: how it would have done at the score it reaches out at.
    const threshold = q.threshold ?? churnSettings((await getPlaySettings(db, workspaceId, CHURN_PLAY)).config).threshold;
    res.json({ days: q.days, stepDays: q.stepDays, ...(await churnBacktest(db, workspaceId, { ...q, threshold }, new Date())) });
  });
  router.get('/workspaces/:workspaceId/churn-saves', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const hidden = redactionOf(res).policy.fields;
    const saves = await listChurnSaves(db, workspaceId, outreachListOptions(req.query));
    res.json({
      saves: (await withContacts(db, keyring, workspaceId, saves)).map((s) => {
        const risk = riskAsShown({ score: s.riskScore, level: riskLevel(s.riskScore), reasons: s.reasons }, hidden);
        return {
          id: s.id,
          customerId: s.customerId,
          name: s.name,
          email: s.email,
          workflowId: s.workflowId,
          risk,
          threshold: s.threshold,
          intervention: s.intervention,
          startedAt: s.startedAt,
          outcome: s.outcome,
          endedAt: s.endedAt,
        };
      }),
    });
  });
  return router;
}
