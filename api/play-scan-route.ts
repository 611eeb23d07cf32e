import type { Router } from 'express';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { OutreachScanDeps } from '../activities/outreach-scan';
import type { Knex } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import type { Logger } from '../platform/logger';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';

/**
 * The looks at a workspace an owner asked this API process for, by play, while they
 * run. Kept in the process, not in Postgres: a lock held for a look's length would keep
 * a pooled connection from every other request meanwhile.
 */
export const scansUnderWay = new Set<string>();
export const scanKey = (play: string, workspaceId: string) => `${play}:${workspaceId}`;

/**
 * `POST /workspaces/:workspaceId/<path>` (owner): a play's look at the workspace now,
 * instead of at its worker's next scan. 409 while the play is off, or while another
 * look an owner asked this process for runs (a look scores every customer: asked
 * again and again, they would only pile up); 503 when the scan could not finish
 * (Temporal or the database did not answer).
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
    const key = scanKey(route.play, workspaceId);
    if (scansUnderWay.has(key)) throw new HttpError(409, `${route.name} is already looking at this workspace; try again once that look has finished`);
    scansUnderWay.add(key);
    let scan: S;
    try {
      scan = await route.scan({ db: deps.db, client: deps.client, taskQueue: deps.taskQueue, log: deps.log }, new Date(), [workspaceId]);
    } finally {
      scansUnderWay.delete(key);
    }
    if (scan.failed) throw new HttpError(503, `${route.name} could not finish its look (Temporal or the database did not answer); try again shortly`);
    res.json(route.answer(scan));
  });
}

/** The query of the one-email plays' list routes (saves, pitches, notes): `?customerId=&limit=`. */
const outreachListQuery = z.strictObject({
  customerId: z.string().min(1).max(255).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** A list route's query, parsed (a 400 names what is wrong), as the plays' rows `list` takes it. */
export function outreachListOptions(query: unknown): { limit: number; customerId?: string } {
  const q = parseOr400(outreachListQuery, query, 'query');
  return { limit: q.limit, ...(q.customerId ? { customerId: q.customerId } : {}) };
}
