import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Db } from './knex';

/**
 * Browser sessions. The cookie carries 256 random bits; the table keeps only their
 * SHA-256 (the token is unguessable, so a plain hash is enough and keeps the check
 * per request cheap). The CSRF token is derived from the session token, so nothing
 * more is stored and only a holder of the cookie's value can compute it.
 */
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

export interface Session {
  id: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

interface SessionRow {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

const SESSION_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The stored form of a bearer token (a session's, a password reset's): its SHA-256, hex. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const toSession = (r: SessionRow): Session => ({ id: r.id, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at });

/** The CSRF token of a session: an HMAC keyed with the session token, so it cannot be computed without the cookie. */
export const csrfTokenFor = (sessionToken: string) => createHmac('sha256', sessionToken).update('wysera csrf v1').digest('base64url');

/** Opens a session; the token is returned once, for the cookie. */
export async function createSession(db: Db, userId: string, ttlSeconds = SESSION_TTL_SECONDS): Promise<{ token: string; session: Session }> {
  const token = randomBytes(32).toString('base64url');
  // Sessions that ended a day ago or more are of no further use (their creation and end
  // are in the audit log): each sign-in clears the user's, so the table stays small.
  await db('sessions')
    .where({ user_id: userId })
    .whereRaw(`(expires_at < now() - interval '1 day' or revoked_at < now() - interval '1 day')`)
    .delete();
  const [row] = await db<SessionRow>('sessions')
    .insert({
      id: `ses_${randomBytes(9).toString('base64url')}`,
      token_hash: hashToken(token),
      user_id: userId,
      expires_at: db.raw(`now() + make_interval(secs => ?)`, [ttlSeconds]) as unknown as Date,
    })
    .returning('*');
  return { token, session: toSession(row!) };
}

/** The live (not expired, not revoked) session a cookie value belongs to. */
export async function findLiveSession(db: Db, token: string): Promise<Session | undefined> {
  if (!SESSION_TOKEN.test(token)) return undefined;
  const row = await db<SessionRow>('sessions').where({ token_hash: hashToken(token) }).whereNull('revoked_at').where('expires_at', '>', db.fn.now()).first();
  return row && toSession(row);
}

export async function revokeSession(db: Db, id: string): Promise<void> {
  await db('sessions').where({ id }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
}
