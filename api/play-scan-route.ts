import type { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { OutreachScanDeps } from '../activities/outreach-scan';
import type { Knex } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import type { Logger } from '../platform/logger';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError } from './errors';

/** The advisory lock one owner's look at a workspace holds for a play, while it runs. */
export const scanLockKey = (play: string, workspaceId: string) => `play-scan:${play}:${workspaceId}`;

/**
 * `POST /workspaces/:workspaceId/<path>` (owner): a play's look at the workspace now,
 * instead of at its worker's next scan. 409 while the play is off, or while another
 * such look at the workspace runs (a look scores every customer: asked again and
 * again, they would only pile up); 503 when the scan could not finish (Temporal or
 * the database did not answer).
 */
export function playScanRoute<S extends { failed: number }>(
  router: Router,
  deps: { db: Knex; client: Client; taskQueue: string; log: Logger },
  route: { path: string; play: string; name: string; scan(deps: OutreachScanDeps, now: Date, only: string[]): Promise<S>; answer(scan: S): object },
): void {
  router.post(`/workspaces/:workspaceId/${route.path}`, requireWorkspaceRole('owner'), async (_req, res) => {
    const { workspaceId } = authOf(res);
    const play = await getPlaySettings(deps.db, workspaceId, route.play);
    if (play.rollout.mode === 'off') throw new HttpError(409, `${route.name} is off in this workspace: set its mode first (PUT /workspaces/${workspaceId}/plays/${route.play}/settings)`);
    // Held by a transaction of its own for the look's length, in every API process alike.
    const scan = await deps.db.transaction(async (trx) => {
      const { rows } = await trx.raw<{ rows: { locked: boolean }[] }>('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [scanLockKey(route.play, workspaceId)]);
      if (!rows[0]?.locked) throw new HttpError(409, `${route.name} is already looking at this workspace; try again once that look has finished`);
      return route.scan({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, log: deps.log }, new Date(), [workspaceId]);
    });
    if (scan.failed) throw new HttpError(503, `${route.name} could not finish its look (Temporal or the database did not answer); try again shortly`);
    res.json(route.answer(scan));
  });
}
