import { randomBytes } from 'node:crypto';
import { inTransaction, type Db } from './knex';
import { normalEmail } from './customer-pii';
import { keyedHash, keyedHashes, open, seal, type Keyring } from '../platform/crypto';
import { hashPassword, passwordParamsSchema, type PasswordHash } from '../platform/passwords';

/**
 * People who sign in to the web UI. A user's email is sealed with the keyring (bound
 * to the user's id) and found through a keyed hash of the normalised email, as
 * customer emails are (db/customer-pii.ts); the password is a scrypt hash with its
 * salt and parameters (platform/passwords.ts).
 */
export interface User {
  id: string;
  email: string;
  createdAt: Date;
}

export interface UserWithPassword extends User {
  password: PasswordHash;
}

interface UserRow {
  id: string;
  email: string;
  email_hash: string;
  password_hash: string;
  password_salt: string;
  password_params: unknown;
  created_at: Date;
  password_changed_at: Date;
}

export const userEmailContext = (userId: string) => `user:${userId}:email`;

// Not per workspace: one person has one account across workspaces.
const USER_EMAIL_LOOKUP = 'wysera user email lookup v1';
export const userEmailHash = (ring: Keyring, email: string, keyId = ring.activeKeyId) => keyedHash(ring, USER_EMAIL_LOOKUP, normalEmail(email), keyId);

export const newUserId = () => `usr_${randomBytes(9).toString('base64url')}`;

const toUser = (ring: Keyring, r: UserRow): User => ({ id: r.id, email: open(ring, r.email, userEmailContext(r.id)), createdAt: r.created_at });

const passwordColumns = (p: PasswordHash) => ({ password_hash: p.hash, password_salt: p.salt, password_params: JSON.stringify(p.params) });

export async function findUser(db: Db, ring: Keyring, id: string): Promise<User | undefined> {
  const row = await db<UserRow>('users').where({ id }).first();
  return row && toUser(ring, row);
}

/** These users' emails, by id; ids without an account are left out. */
export async function userEmails(db: Db, ring: Keyring, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db<UserRow>('users').whereIn('id', [...new Set(ids)]).select('id', 'email');
  return new Map(rows.map((r) => [r.id, open(ring, r.email, userEmailContext(r.id))]));
}

const withPassword = (ring: Keyring, row: UserRow | undefined): UserWithPassword | undefined =>
  row && { ...toUser(ring, row), password: { hash: row.password_hash, salt: row.password_salt, params: passwordParamsSchema.parse(row.password_params) } };

/** The user with this email (any case, any key of the ring), with its password hash to check. */
export async function findUserByEmail(db: Db, ring: Keyring, email: string): Promise<UserWithPassword | undefined> {
  return withPassword(ring, await db<UserRow>('users').whereIn('email_hash', keyedHashes(ring, USER_EMAIL_LOOKUP, normalEmail(email))).first());
}

export async function findUserWithPassword(db: Db, ring: Keyring, id: string): Promise<UserWithPassword | undefined> {
  return withPassword(ring, await db<UserRow>('users').where({ id }).first());
}

/** Retires the user's live password reset links (db/password-resets.ts): a newer link, or a password set any way, makes them moot. */
export async function retirePasswordResets(db: Db, userId: string): Promise<void> {
  await db('password_resets').where({ user_id: userId }).whereNull('used_at').update({ used_at: db.fn.now() });
}

/**
 * Sets a new password and ends the user's sessions (but `keepSessionId`, the one that
 * made the change): whoever knew the old password is signed out, and any reset link
 * still live stops working.
 */
export async function setPassword(db: Db, userId: string, password: string, keepSessionId?: string): Promise<void> {
  const hashed = passwordColumns(await hashPassword(password));
  await db('users').where({ id: userId }).update({ ...hashed, password_changed_at: db.fn.now() });
  await retirePasswordResets(db, userId);
  const others = db('sessions').where({ user_id: userId }).whereNull('revoked_at');
  if (keepSessionId) void others.whereNot({ id: keepSessionId });
  await others.update({ revoked_at: db.fn.now() });
}

/**
 * The user with this email, created with `password` if there is none. Creation is
 * serialised by a transaction-scoped advisory lock, since the unique hash cannot
 * catch one email hashed under two keys during a rotation.
 */
export async function findOrCreateUser(db: Db, ring: Keyring, email: string, password: string): Promise<{ user: User; created: boolean }> {
  const run = async (trx: Db) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['users:create']);
    const existing = await findUserByEmail(trx, ring, email);
    if (existing) return { user: { id: existing.id, email: existing.email, createdAt: existing.createdAt }, created: false };
    const id = newUserId();
    const trimmed = email.trim();
    const [row] = await trx<UserRow>('users')
      .insert({ id, email: seal(ring, trimmed, userEmailContext(id)), email_hash: userEmailHash(ring, trimmed), ...passwordColumns(await hashPassword(password)) })
      .returning('*');
    return { user: toUser(ring, row!), created: true };
  };
  return inTransaction(db, run);
}
