import { Router, type RequestHandler, type Response } from 'express';
import { appendAudit } from '../db/audit';
import type { Knex } from '../db/knex';
import { loadRedactionSetting, storeRedactionSetting } from '../db/redaction';
import { hidesAnything, redact, redactionPolicy, redactionSettingSchema, type RedactionPolicy } from '../domain/redaction';
import { authOf, onAuthorised, principalOf, requireWorkspaceRole, type AuthContext } from './auth';
import { HttpError, parseOr400 } from './errors';

const NOTHING_HIDDEN: RedactionPolicy = { revenue: false, fields: new Set() };

/** The caller's redaction, as `redactResponses` resolved it. */
export interface Redaction {
  policy: RedactionPolicy;
  /** Whether anything is hidden from this caller. */
  active: boolean;
  apply<T>(value: T): T;
}

/**
 * Whether a customer's MRR is hidden from the caller: then no list is ordered or cut by
 * it either, since the order itself would tell what is hidden.
 */
export const hidesMrr = (redaction: Redaction): boolean => redaction.policy.revenue || redaction.policy.fields.has('mrr');

const redactionFrom = (policy: RedactionPolicy): Redaction => ({ policy, active: hidesAnything(policy), apply: (v) => redact(v, policy) });

/**
 * The caller's redaction. Without redactResponses in front (a router mounted on its
 * own), it fails closed to the role's default: revenue hidden below finance.
 */
export function redactionOf(res: Response): Redaction {
  const resolved = (res.locals as { redaction?: Redaction }).redaction;
  if (resolved) return resolved;
  const principal = principalOf(res);
  if (principal?.kind === 'token') return redactionFrom(redactionPolicy(principal.role));
  // A session's role is per workspace: the guard's, or the least one if none ran.
  if (principal?.kind === 'session') return redactionFrom(redactionPolicy((res.locals as { auth?: AuthContext }).auth?.role ?? 'viewer'));
  return redactionFrom(NOTHING_HIDDEN);
}

/**
 * Resolves the caller's redaction (role + the workspace's setting) and applies it to
 * every successful JSON body, so no route can forget it. Routes that write CSV pass
 * their rows through redactionOf(res).apply before formatting them: the same rule for
 * both. A token's workspace is the only one its routes can reach (the guards refuse
 * any other), so its setting applies from the start; a session's role depends on the
 * workspace a route names, so its redaction is resolved when the guard has decided.
 */
export function redactResponses({ db }: { db: Knex }): RequestHandler {
  const install = async (res: Response, role: AuthContext['role'], workspaceId: string) => {
    const redaction = redactionFrom(redactionPolicy(role, await loadRedactionSetting(db, workspaceId)));
    (res.locals as { redaction?: Redaction }).redaction = redaction;
    if (redaction.active) {
      const json = res.json.bind(res);
      res.json = (body: unknown) => json(res.statusCode < 300 ? redaction.apply(body) : body);
    }
  };
  return async (_req, res, next) => {
    const principal = principalOf(res);
    if (principal?.kind === 'token') await install(res, principal.role, principal.workspaceId);
    if (principal?.kind === 'session') onAuthorised(res, (auth) => install(res, auth.role, auth.workspaceId));
    next();
  };
}

/** The workspace's own redaction setting: readable by all, changed by owners (audited). */
export function redactionRouter({ db }: { db: Knex }): Router {
  const router = Router();

  router.get('/workspaces/:workspaceId/redaction', requireWorkspaceRole('viewer'), async (_req, res) => {
    res.json({ redaction: await loadRedactionSetting(db, authOf(res).workspaceId) });
  });

  router.put('/workspaces/:workspaceId/redaction', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const setting = parseOr400(redactionSettingSchema, req.body, 'redaction');
    await db.transaction(async (trx) => {
      const before = await loadRedactionSetting(trx, auth.workspaceId);
      if (!(await storeRedactionSetting(trx, auth.workspaceId, setting))) throw new HttpError(404, `no workspace ${auth.workspaceId}`);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'redaction.changed', targetType: 'workspace', targetId: auth.workspaceId, before, after: setting });
    });
    res.json({ redaction: setting });
  });

  return router;
}
