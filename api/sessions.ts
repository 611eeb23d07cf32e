import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { appendAudit } from '../db/audit';
import type { Knex } from '../db/knex';
import { membershipsOf } from '../db/members';
import { createSession, csrfTokenFor, revokeSession, SESSION_TTL_SECONDS } from '../db/sessions';
import { findUser, findUserByEmail, findUserWithPassword, setPassword, type User } from '../db/users';
import type { Keyring } from '../platform/crypto';
import { checkAgainstDecoy, passwordSchema, verifyPassword } from '../platform/passwords';
import { principalOf, requireSession, sessionOf, SESSION_COOKIE } from './auth';
import { HttpError, parseOr400 } from './errors';
import { loginRateLimit, passwordChangeLimit } from './hardening';

/**
 * Browser sessions for the web UI (docs/security.md, "Sessions"):
 *   POST /auth/login {email, password} -> the session view and the session cookie
 *   GET /auth/session                  -> the session view, or 401
 *   POST /auth/logout                  -> 204; the session is revoked, the cookie cleared
 *   POST /auth/password {currentPassword, newPassword} -> 204; the user's other sessions end
 * The view is `{ user: {id, email}, memberships: [{workspaceId, workspaceName, role}], csrfToken }`.
 */

const login = z.strictObject({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
});

const WRONG = 'email or password is wrong';

const passwordChange = z.strictObject({
  currentPassword: z.string().min(1).max(1024),
  newPassword: passwordSchema,
});

// Secure: browsers accept it on http://localhost too, and nowhere else over plain HTTP.
const cookie = (value: string, maxAge: number) => `${SESSION_COOKIE}=${value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${maxAge}`;

export interface SessionView {
  user: { id: string; email: string };
  memberships: { workspaceId: string; workspaceName: string; role: string }[];
  csrfToken: string;
}

async function view(db: Knex, user: User, csrfToken: string): Promise<SessionView> {
  return { user: { id: user.id, email: user.email }, memberships: await membershipsOf(db, user.id), csrfToken };
}

/**
 * SameSite=Strict keeps other sites' forms from carrying the cookie, and the login
 * itself has no cookie to abuse; a browser's Origin header, when present, must still
 * be this server's own, so no other site can sign a visitor in to an account of its
 * choosing (login CSRF).
 */
function checkOrigin(req: Request): void {
  const origin = req.get('origin');
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  // req.host: the Host header, or a trusted proxy's X-Forwarded-Host (app.ts trusts
  // loopback), so the check holds behind a proxy that passes the public host that way.
  if (!host || host !== req.host) throw new HttpError(403, `login from another origin (${origin}) is refused`);
}

export interface SessionDeps {
  db: Knex;
  keyring: Keyring;
  /** Failed logins per email per 15 minutes before 429 (default 10; 0: no limit). */
  loginFailuresPerEmail?: number;
  /** Failed logins per client address per 15 minutes before 429 (default 100; 0: no limit). */
  loginFailuresPerAddress?: number;
}

/** POST /auth/login: mounted before `authenticate`, since a login neither needs nor uses an existing session. */
export function loginRouter(deps: SessionDeps): Router {
  const router = Router();
  const limits = loginRateLimit({ perEmail: deps.loginFailuresPerEmail ?? 10, perAddress: deps.loginFailuresPerAddress ?? 100 });

  router.post('/auth/login', ...limits, async (req, res) => {
    checkOrigin(req);
    const input = parseOr400(login, req.body, 'login');
    const user = await findUserByEmail(deps.db, deps.keyring, input.email);
    // An unknown email costs a password check too: same answer, similar time.
    const ok = user ? await verifyPassword(input.password, user.password) : await checkAgainstDecoy(input.password);
    if (!user || !ok) throw new HttpError(401, WRONG);
    const { token, session } = await createSession(deps.db, user.id);
    await appendAudit(deps.db, { workspaceId: null, actor: `user:${user.id}`, action: 'session.created', targetType: 'session', targetId: session.id, after: { expiresAt: session.expiresAt } });
    res.append('Set-Cookie', cookie(token, SESSION_TTL_SECONDS));
    res.json(await view(deps.db, user, csrfTokenFor(token)));
  });

  return router;
}

/** GET /auth/session and POST /auth/logout: mounted after `authenticate`, which resolves the cookie and checks CSRF. */
export function sessionRouter(deps: SessionDeps): Router {
  const router = Router();

  router.get('/auth/session', requireSession, async (_req, res) => {
    const session = sessionOf(res);
    const user = await findUser(deps.db, deps.keyring, session.userId);
    if (!user) throw new HttpError(401, 'no session: sign in with POST /auth/login');
    res.json(await view(deps.db, user, session.csrfToken));
  });

  router.post('/auth/password', requireSession, passwordChangeLimit(10, (res) => sessionOf(res).userId), async (req, res) => {
    const session = sessionOf(res);
    const input = parseOr400(passwordChange, req.body, 'password change');
    const user = await findUserWithPassword(deps.db, deps.keyring, session.userId);
    // 403, not 401: the session is fine, only the proof of the old password is not.
    if (!user || !(await verifyPassword(input.currentPassword, user.password))) throw new HttpError(403, 'the current password is wrong');
    await setPassword(deps.db, session.userId, input.newPassword, session.sessionId);
    await appendAudit(deps.db, { workspaceId: null, actor: session.actor, action: 'user.password_changed', targetType: 'user', targetId: session.userId });
    res.status(204).end();
  });

  // Answers 204 with or without a live session, so a stale cookie is always cleared.
  router.post('/auth/logout', async (_req, res: Response) => {
    const principal = principalOf(res);
    if (principal?.kind === 'session') {
      await revokeSession(deps.db, principal.sessionId);
      await appendAudit(deps.db, { workspaceId: null, actor: principal.actor, action: 'session.revoked', targetType: 'session', targetId: principal.sessionId });
    }
    res.append('Set-Cookie', cookie('', 0));
    res.status(204).end();
  });

  return router;
}
