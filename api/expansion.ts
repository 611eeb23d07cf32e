import { Router } from 'express';
import { Client, type Connection } from '@temporalio/client';
import { scanExpansion } from '../activities/expansion';
import { expansionPitchRows } from '../db/expansion-pitches';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import { withContacts } from './customer-contacts';
import { EXPANSION_PLAY } from '../domain/expansion';
import { hideActivityFacts } from '../domain/redaction';
import type { Logger } from '../platform/logger';
import { authOf, requireWorkspaceRole } from './auth';
import { outreachListOptions, playScanRoute } from './play-scan-route';
import { redactionOf } from './redaction';

/**
 * `GET /workspaces/:workspaceId/expansion-pitches` (viewer+): the expansion play's
 * pitches, newest first, with what set each off (the use near a limit, hidden where
 * the workspace hides the product's activity from the caller, or the seats added),
 * the plan pitched and the outcome.
 *
 * `POST /workspaces/:workspaceId/expansion/scan` (owner): the play's look at the
 * workspace now, instead of at its next hourly scan (activities/expansion.ts).
 */
export function expansionRouter({ db, keyring, temporal, namespace, taskQueue, log }: { db: Knex; keyring: Keyring; temporal: Connection; namespace: string; taskQueue: string; log: Logger }): Router {
  const router = Router();
  const client = new Client({ connection: temporal, namespace });
  playScanRoute(router, { db, client, taskQueue, log }, {
    path: 'expansion/scan',
    play: EXPANSION_PLAY,
    name: 'the expansion play',
    scan: scanExpansion,
    answer: ({ candidates, opened, started, swept }) => ({ candidates, opened, started, swept }),
  });
  router.get('/workspaces/:workspaceId/expansion-pitches', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const hidden = redactionOf(res).policy.fields;
    const pitches = await expansionPitchRows.list(db, workspaceId, outreachListOptions(req.query));
    res.json({
      pitches: (await withContacts(db, keyring, workspaceId, pitches)).map((p) => ({
        id: p.id,
        customerId: p.customerId,
        name: p.name,
        email: p.email,
        workflowId: p.workflowId,
        trigger: p.trigger,
        // A limit's use is the product's activity: hidden with it (domain/redaction.ts), as in drafts.
        evidence: p.evidence.trigger === 'near_limit' ? (hideActivityFacts({ usage: p.evidence }, hidden).usage ?? null) : p.evidence,
        targetProductId: p.targetProductId,
        startedAt: p.startedAt,
        outcome: p.outcome,
        endedAt: p.endedAt,
      })),
    });
  });
  return router;
}
