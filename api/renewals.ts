import { Router } from 'express';
import { Client, type Connection } from '@temporalio/client';
import { z } from 'zod';
import { scanRenewals } from '../activities/renewal';
import type { Knex } from '../db/knex';
import { renewalNoteRows } from '../db/renewal-notes';
import { RENEWAL_PLAY } from '../domain/renewal';
import type { Logger } from '../platform/logger';
import { authOf, requireWorkspaceRole } from './auth';
import { parseOr400 } from './errors';
import { playScanRoute } from './play-scan-route';

const notesQuery = z.strictObject({
  customerId: z.string().min(1).max(255).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/**
 * `GET /workspaces/:workspaceId/renewal-notes` (viewer+): the renewal play's notes,
 * newest first: the subscription and when it renews, what the note folded in (plain,
 * save, upgrade) and how it ended.
 *
 * `POST /workspaces/:workspaceId/renewals/scan` (owner): the play's look at the
 * workspace now, instead of at its next hourly scan (activities/renewal.ts).
 */
export function renewalsRouter({ db, temporal, namespace, taskQueue, log }: { db: Knex; temporal: Connection; namespace: string; taskQueue: string; log: Logger }): Router {
  const router = Router();
  const client = new Client({ connection: temporal, namespace });
  playScanRoute(router, { db, client, taskQueue, log }, {
    path: 'renewals/scan',
    play: RENEWAL_PLAY,
    name: 'the renewal play',
    scan: scanRenewals,
    answer: ({ candidates, opened, started, swept }) => ({ renewing: candidates, opened, started, swept }),
  });
  router.get('/workspaces/:workspaceId/renewal-notes', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const q = parseOr400(notesQuery, req.query, 'query');
    const notes = await renewalNoteRows.list(db, workspaceId, { limit: q.limit, ...(q.customerId ? { customerId: q.customerId } : {}) });
    res.json({
      notes: notes.map((n) => ({ id: n.id, customerId: n.customerId, subscriptionId: n.subscriptionId, workflowId: n.workflowId, renewsAt: n.renewsAt, fold: n.fold, startedAt: n.startedAt, outcome: n.outcome, endedAt: n.endedAt })),
    });
  });
  return router;
}
