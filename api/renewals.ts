import { Router } from 'express';
import { Client, type Connection } from '@temporalio/client';
import { scanRenewals } from '../activities/renewal';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import { withContacts } from './customer-contacts';
import { renewalNoteRows } from '../db/renewal-notes';
import { RENEWAL_PLAY } from '../domain/renewal';
import type { Logger } from '../platform/logger';
import { authOf, requireWorkspaceRole } from './auth';
import { outreachListOptions, playScanRoute } from './play-scan-route';

/**
 * `GET /workspaces/:workspaceId/renewal-notes` (viewer+): the renewal play's notes,
 * newest first: the subscription and when it renews, what the note folded in (plain,
 * save, upgrade) and how it ended.
 *
 * `POST /workspaces/:workspaceId/renewals/scan` (owner): the play's look at the
 * workspace now, instead of at its next hourly scan (activities/renewal.ts).
 */
export function renewalsRouter({ db, keyring, temporal, namespace, taskQueue, log }: { db: Knex; keyring: Keyring; temporal: Connection; namespace: string; taskQueue: string; log: Logger }): Router {
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
    const notes = await renewalNoteRows.list(db, workspaceId, outreachListOptions(req.query));
    res.json({
      notes: (await withContacts(db, keyring, workspaceId, notes)).map((n) => ({ id: n.id, customerId: n.customerId, name: n.name, email: n.email, subscriptionId: n.subscriptionId, workflowId: n.workflowId, renewsAt: n.renewsAt, fold: n.fold, startedAt: n.startedAt, outcome: n.outcome, endedAt: n.endedAt })),
    });
  });
  return router;
}
