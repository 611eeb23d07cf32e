import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './knex';
import type { Role } from '../domain/roles';

export interface ApiToken {
  id: string;
  workspaceId: string;
  role: Role;
  name: string;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}

interface ApiTokenRow {
  id: string;
  workspace_id: string;
  role: Role;
  name: string;
  secret_hash: string;
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
}

const TOKEN = /^wys_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Unbiased: 248 is the largest multiple of 62 below 256, so rejected bytes are re-drawn. */
function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

const toToken = (r: ApiTokenRow): ApiToken => ({
  id: r.id,
  workspaceId: r.workspace_id,
  role: r.role,
  name: r.name,
  createdBy: r.created_by,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/**
 * Creates a token and returns it in full: the only time the secret is visible.
 * Only its SHA-256 is stored (the secret has 256 bits of entropy, so a plain hash
 * is enough and keeps each request's check cheap).
 */
export async function createApiToken(
  db: Db,
  input: { workspaceId: string; role: Role; name: string; createdBy: string },
): Promise<{ token: string; apiToken: ApiToken }> {
  const id = randomAlphanumeric(12);
  const secret = randomBytes(32).toString('base64url');
  const [row] = await db<ApiTokenRow>('api_tokens')
    .insert({ id, workspace_id: input.workspaceId, role: input.role, name: input.name, secret_hash: hashSecret(secret), created_by: input.createdBy })
    .returning('*');
  return { token: `wys_${id}_${secret}`, apiToken: toToken(row!) };
}

/** The live token a presented bearer string belongs to, or undefined (unknown, malformed, revoked). */
export async function verifyApiToken(db: Db, presented: string): Promise<ApiToken | undefined> {
  const match = TOKEN.exec(presented);
  if (!match) return undefined;
  const [, id, secret] = match;
  const row = await db<ApiTokenRow>('api_tokens').where({ id }).first();
  if (!row || row.revoked_at) return undefined;
  const expected = Buffer.from(row.secret_hash, 'hex');
  const actual = Buffer.from(hashSecret(secret!), 'hex');
  if (!timingSafeEqual(expected, actual)) return undefined;
  return toToken(row);
}

export async function revokeApiToken(db: Db, workspaceId: string, id: string): Promise<ApiToken | undefined> {
  const [row] = await db<ApiTokenRow>('api_tokens')
    .where({ id, workspace_id: workspaceId })
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now() })
    .returning('*');
  return row && toToken(row);
}

/** The names of this workspace's tokens with these ids (revoked ones too), by id. */
export async function apiTokenNames(db: Db, workspaceId: string, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db<ApiTokenRow>('api_tokens').where({ workspace_id: workspaceId }).whereIn('id', [...new Set(ids)]).select('id', 'name');
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function listApiTokens(db: Db, workspaceId: string): Promise<ApiToken[]> {
  const rows = await db<ApiTokenRow>('api_tokens').where({ workspace_id: workspaceId }).orderBy('created_at');
  return rows.map(toToken);
}
