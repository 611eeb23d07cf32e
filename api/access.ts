import { Router } from 'express';
import { z } from 'zod';
import type { Knex } from '../db/knex';
import { createApiToken, listApiTokens, revokeApiToken } from '../db/api-tokens';
import { appendAudit, listAudit } from '../db/audit';
import { ROLES } from '../domain/roles';
import type { Keyring } from '../platform/crypto';
import { actorLabels } from './actor-labels';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';

const newToken = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES),
});

const auditQuery = z.strictObject({
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(200).optional(),
  since: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  until: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  beforeId: z.coerce.number().int().positive().optional(),
});

/** API tokens of a workspace (owners only) and its audit log. */
export function accessRouter({ db, keyring }: { db: Knex; keyring: Keyring }): Router {
  const router = Router();

  router.post('/workspaces/:workspaceId/tokens', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const input = parseOr400(newToken, req.body, 'token');
    const created = await db.transaction(async (trx) => {
      const result = await createApiToken(trx, { workspaceId: auth.workspaceId, role: input.role, name: input.name, createdBy: auth.actor });
      const { id, role, name } = result.apiToken;
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'token.created', targetType: 'api_token', targetId: id, after: { id, role, name } });
      return result;
    });
    res.status(201).json({ token: created.token, ...created.apiToken });
  });

  router.get('/workspaces/:workspaceId/tokens', requireWorkspaceRole('owner'), async (_req, res) => {
    const { workspaceId } = authOf(res);
    const tokens = await listApiTokens(db, workspaceId);
    const names = await actorLabels(db, keyring, workspaceId, tokens.map((t) => t.createdBy));
    res.json({ tokens: tokens.map((t) => ({ ...t, createdByName: names[t.createdBy] ?? t.createdBy })) });
  });

  router.delete('/workspaces/:workspaceId/tokens/:tokenId', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const tokenId = String(req.params.tokenId);
    const revoked = await db.transaction(async (trx) => {
      const token = await revokeApiToken(trx, auth.workspaceId, tokenId);
      if (!token) throw new HttpError(404, `no live token ${tokenId} in workspace ${auth.workspaceId}`);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'token.revoked', targetType: 'api_token', targetId: tokenId, before: { revokedAt: null }, after: { revokedAt: token.revokedAt } });
      return token;
    });
    res.json(revoked);
  });

  router.get('/workspaces/:workspaceId/audit', requireWorkspaceRole('finance'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const filter = parseOr400(auditQuery, req.query, 'query');
    const entries = await listAudit(db, workspaceId, filter);
    res.json({ entries, actors: await actorLabels(db, keyring, workspaceId, entries.map((e) => e.actor)) });
  });

  return router;
}
