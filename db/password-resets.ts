import { randomBytes } from 'node:crypto';
import { inTransaction, type Db } from './knex';
import { hashToken } from './sessions';
import { retirePasswordResets, setPassword } from './users';

/**
 * Password resets by email. The link carries 256 random bits; the table keeps their
 * SHA-256 only (db/sessions.ts does the same for cookies), so a read of the database
 * cannot reset anyone's password. A link works once, for an hour, and asking again
 * retires the links before it.
 */
export const PASSWORD_RESET_TTL_MS = 60 * 60_000;

const RESET_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * A new reset for the user, its token returned once, for the email's link; undefined
 * when the user was sent `perHour` links in the last hour already. The user's row is
 * locked first, so two requests at once can neither both pass the limit nor both
 * leave a live link.
 */
export async function createPasswordReset(db: Db, userId: string, opts: { perHour: number; ttlMs?: number }): Promise<{ id: string; token: string; expiresAt: Date } | undefined> {
  const token = randomBytes(32).toString('base64url');
  const id = `pwr_${randomBytes(9).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + (opts.ttlMs ?? PASSWORD_RESET_TTL_MS));
  return inTransaction(db, async (trx) => {
    await trx('users').where({ id: userId }).forUpdate().select('id');
    const [sent] = await trx('password_resets').where({ user_id: userId }).where('created_at', '>=', trx.raw(`now() - interval '1 hour'`)).count<{ n: string }[]>({ n: '*' });
    if (Number(sent?.n ?? 0) >= opts.perHour) return undefined;
    await retirePasswordResets(trx, userId);
    await trx('password_resets').insert({ id, token_hash: hashToken(token), user_id: userId, expires_at: expiresAt });
    return { id, token, expiresAt };
  });
}

/**
 * Sets the password of the link's user and uses the link up, in one transaction, and
 * ends every session of the user. Undefined, changing nothing, for a token that is
 * malformed, unknown, used, retired or expired.
 */
export async function resetPassword(db: Db, token: string, password: string): Promise<{ id: string; userId: string } | undefined> {
  if (!RESET_TOKEN.test(token)) return undefined;
  return inTransaction(db, async (trx) => {
    const row = await trx('password_resets')
      .where({ token_hash: hashToken(token) })
      .whereNull('used_at')
      .where('expires_at', '>', trx.fn.now())
      .forUpdate()
      .first<{ id: string; user_id: string } | undefined>('id', 'user_id');
    if (!row) return undefined;
    // Setting the password retires every live link of the user, this one with them (db/users.ts).
    await setPassword(trx, row.user_id, password);
    return { id: row.id, userId: row.user_id };
  });
}
