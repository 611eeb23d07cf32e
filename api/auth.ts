import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Knex } from '../db/knex';
import { verifyApiToken } from '../db/api-tokens';
import { memberRole } from '../db/members';
import { csrfTokenFor, findLiveSession } from '../db/sessions';
import { canSeeRevenue, roleAtLeast, type Role } from '../domain/roles';
import { HttpError } from './errors';

/** Who is calling, as established by `authenticate`. */
export type Principal =
  | { kind: 'token'; actor: string; workspaceId: string; role: Role; tokenId: string }
  /** A browser session: its role is the user's membership of the workspace a route names. */
  | { kind: 'session'; actor: string; userId: string; sessionId: string; csrfToken: string }
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
  /** A session's role in a workspace (set by authenticate, which holds the database). */
  memberRole?: (workspaceId: string) => Promise<Role | undefined>;
  /** Called by the workspace guard once the caller's role there is known (redaction hooks in). */
  onAuthorised?: (auth: AuthContext) => Promise<void>;
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

export const SESSION_COOKIE = 'wysera_session';
/** The refusal of a session request without its CSRF token; the web UI matches on it. */
export const CSRF_REFUSED = 'CSRF token missing or wrong: send the X-CSRF-Token header from /auth/session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session cookie's value, if the request carries one. */
export function sessionCookie(req: Request): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

// Digests first: timingSafeEqual needs equal lengths, and the length must not leak either.
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export interface AuthenticateDeps {
  db: Knex;
  /** Token for operator-only routes (creating workspaces); operator routes are off without it. */
  operatorToken?: string | undefined;
}

/**
 * Resolves the caller from a bearer token (an API token, or the operator token) or,
 * without one, from the session cookie, and leaves it in res.locals. It rejects only
 * malformed or unknown bearer tokens; an expired or revoked session cookie counts as
 * no credentials (so public pages still load), and whether a route needs credentials
 * at all is the route's guard's decision.
 *
 * A browser sends the cookie whichever site made the request, so a session request
 * that is not GET/HEAD/OPTIONS must also carry the session's CSRF token in
 * X-CSRF-Token, which only the UI (reading /auth/session) knows; otherwise it is
 * refused (403) here, before any route runs. Bearer tokens are never sent
 * implicitly and need none.
 */
export function authenticate(deps: AuthenticateDeps): RequestHandler {
  const operatorDigest = deps.operatorToken ? digest(deps.operatorToken) : undefined;
  return async (req: Request, res: Response, next: NextFunction) => {
    const presented = bearer(req);
    if (presented === undefined) {
      const cookie = sessionCookie(req);
      const session = cookie === undefined ? undefined : await findLiveSession(deps.db, cookie);
      if (!cookie || !session) return next();
      const csrfToken = csrfTokenFor(cookie);
      if (!SAFE_METHODS.has(req.method)) {
        const sent = req.get('x-csrf-token');
        if (!sent || !sameSecret(sent, csrfToken)) throw new HttpError(403, CSRF_REFUSED);
      }
      locals(res).principal = { kind: 'session', actor: `user:${session.userId}`, userId: session.userId, sessionId: session.id, csrfToken };
      locals(res).memberRole = (workspaceId) => memberRole(deps.db, session.userId, workspaceId);
      return next();
    }
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
export type Guard = { kind: 'workspace'; minimum: Role } | { kind: 'operator' } | { kind: 'session' };
const guards = new WeakMap<object, Guard>();

/** The guard a handler is, if it is one (requireWorkspaceRole(...) or requireOperator). */
export function guardOf(handler: unknown): Guard | undefined {
  return typeof handler === 'function' ? guards.get(handler) : undefined;
}

const UNAUTHENTICATED = 'authentication required: send "Authorization: Bearer <API token>" or sign in (POST /auth/login)';

/** The caller's role in the workspace: the token's own if it is that workspace's, the user's membership for a session. */
async function roleIn(res: Response, principal: Principal, workspaceId: string): Promise<Role> {
  if (principal.kind === 'session') {
    const role = await locals(res).memberRole?.(workspaceId);
    if (!role) throw new HttpError(403, `you are not a member of workspace ${workspaceId}`);
    return role;
  }
  if (principal.kind !== 'token' || principal.workspaceId !== workspaceId) throw new HttpError(403, `this token has no access to workspace ${workspaceId}`);
  return principal.role;
}

/**
 * Guard for routes under /workspaces/:workspaceId: the caller must hold at least
 * `minimum` in that very workspace. No credentials: 401; another workspace's or too
 * small a role: 403. A session's role is read per request, so a removed member or a
 * changed role applies at once.
 */
export function requireWorkspaceRole(minimum: Role): RequestHandler {
  const guard: RequestHandler = async (req, res, next) => {
    const principal = locals(res).principal;
    if (!principal) throw new HttpError(401, UNAUTHENTICATED);
    const workspaceId = req.params.workspaceId;
    if (typeof workspaceId !== 'string') throw new Error('requireWorkspaceRole used on a route without :workspaceId');
    const role = await roleIn(res, principal, workspaceId);
    if (!roleAtLeast(role, minimum)) {
      throw new HttpError(403, `this action needs the ${minimum} role or higher; ${principal.kind === 'session' ? 'you have' : 'the token has'} ${role}`);
    }
    const auth = { actor: principal.actor, workspaceId, role, canSeeRevenue: canSeeRevenue(role) };
    locals(res).auth = auth;
    await locals(res).onAuthorised?.(auth);
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

/** Guard for routes about the caller's own browser session. */
export const requireSession: RequestHandler = (_req, res, next) => {
  if (locals(res).principal?.kind !== 'session') throw new HttpError(401, 'no session: sign in with POST /auth/login');
  next();
};
guards.set(requireSession, { kind: 'session' });

/** The session of a route guarded by requireSession. */
export function sessionOf(res: Response): Extract<Principal, { kind: 'session' }> {
  const principal = locals(res).principal;
  if (principal?.kind !== 'session') throw new Error('sessionOf() called on a route without requireSession');
  return principal;
}

/** Lets a middleware act once a workspace guard has established the caller's role there (redaction does). */
export function onAuthorised(res: Response, hook: (auth: AuthContext) => Promise<void>): void {
  locals(res).onAuthorised = hook;
}

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
