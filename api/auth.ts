import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Knex } from '../db/knex';
import { verifyApiToken } from '../db/api-tokens';
import { canSeeRevenue, roleAtLeast, type Role } from '../domain/roles';
import { HttpError } from './errors';

/** Who is calling, as established by `authenticate`. */
export type Principal =
  | { kind: 'token'; actor: string; workspaceId: string; role: Role; tokenId: string }
  | { kind: 'operator'; actor: 'operator' };

/** What a workspace-scoped route knows about its caller. */
export interface AuthContext {
  actor: string;
  workspaceId: string;
  role: Role;
  canSeeRevenue: boolean;
}

interface AuthLocals {
  principal?: Principal;
  auth?: AuthContext;
}

const locals = (res: Response) => res.locals as AuthLocals;

function bearer(req: Request): string | undefined {
  const header = req.get('authorization');
  if (!header) return undefined;
  const [scheme, value] = header.split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !value) throw new HttpError(401, 'Authorization header must be "Bearer <token>"');
  return value;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface AuthenticateDeps {
  db: Knex;
  /** Token for operator-only routes (creating workspaces); operator routes are off without it. */
  operatorToken?: string | undefined;
}

/**
 * Resolves the caller from a bearer token (an API token, or the operator token) and
 * leaves it in res.locals. It rejects only malformed or unknown credentials; whether
 * a route needs credentials at all is the route's guard's decision.
 */
export function authenticate(deps: AuthenticateDeps): RequestHandler {
  const operatorDigest = deps.operatorToken ? digest(deps.operatorToken) : undefined;
  return async (req: Request, res: Response, next: NextFunction) => {
    const presented = bearer(req);
    if (presented === undefined) return next();
    if (operatorDigest && timingSafeEqual(digest(presented), operatorDigest)) {
      locals(res).principal = { kind: 'operator', actor: 'operator' };
      return next();
    }
    const token = await verifyApiToken(deps.db, presented);
    if (!token) throw new HttpError(401, 'invalid, unknown or revoked API token');
    locals(res).principal = { kind: 'token', actor: `token:${token.id}`, workspaceId: token.workspaceId, role: token.role, tokenId: token.id };
    next();
  };
}

/** What a route's guard demands; read back from the router stack by the authorisation matrix test. */
export type Guard = { kind: 'workspace'; minimum: Role } | { kind: 'operator' };
const guards = new WeakMap<object, Guard>();

/** The guard a handler is, if it is one (requireWorkspaceRole(...) or requireOperator). */
export function guardOf(handler: unknown): Guard | undefined {
  return typeof handler === 'function' ? guards.get(handler) : undefined;
}

/**
 * Guard for routes under /workspaces/:workspaceId: the caller must hold at least
 * `minimum` in that very workspace. No credentials: 401; another workspace's or too
 * small a role: 403.
 */
export function requireWorkspaceRole(minimum: Role): RequestHandler {
  const guard: RequestHandler = (req, res, next) => {
    const principal = locals(res).principal;
    if (!principal) throw new HttpError(401, 'authentication required: send "Authorization: Bearer <API token>"');
    const workspaceId = req.params.workspaceId;
    if (typeof workspaceId !== 'string') throw new Error('requireWorkspaceRole used on a route without :workspaceId');
    if (principal.kind !== 'token' || principal.workspaceId !== workspaceId) {
      throw new HttpError(403, `this token has no access to workspace ${workspaceId}`);
    }
    if (!roleAtLeast(principal.role, minimum)) {
      throw new HttpError(403, `this action needs the ${minimum} role or higher; the token has ${principal.role}`);
    }
    locals(res).auth = { actor: principal.actor, workspaceId, role: principal.role, canSeeRevenue: canSeeRevenue(principal.role) };
    next();
  };
  guards.set(guard, { kind: 'workspace', minimum });
  return guard;
}

/** Guard for operator-only routes (e.g. creating a workspace). */
export const requireOperator: RequestHandler = (_req, res, next) => {
  const principal = locals(res).principal;
  if (!principal) throw new HttpError(401, 'authentication required: send "Authorization: Bearer <operator token>"');
  if (principal.kind !== 'operator') throw new HttpError(403, 'this action needs the operator token');
  next();
};
guards.set(requireOperator, { kind: 'operator' });

/** The caller as `authenticate` established it (undefined: no credentials). */
export function principalOf(res: Response): Principal | undefined {
  return locals(res).principal;
}

/** The caller of a route guarded by requireWorkspaceRole. */
export function authOf(res: Response): AuthContext {
  const auth = locals(res).auth;
  if (!auth) throw new Error('authOf() called on a route without requireWorkspaceRole');
  return auth;
}
