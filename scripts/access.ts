/**
 * Access administration from the shell (direct database access, for first runs and
 * operators):
 *   npm run access -- token create --workspace ws_... --role owner --name "first owner"
 *   npm run access -- token revoke --workspace ws_... --id <token id>
 *   npm run access -- owner create --workspace ws_... --email you@example.com [--password-stdin] [--no-token]
 *   npm run access -- audit verify --workspace ws_...
 *   npm run access -- keys rotate [--batch 500]   (WYSERA_ENCRYPTION_KEYS: the new key first)
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createApiToken, revokeApiToken } from '../db/api-tokens';
import { appendAudit, verifyAuditChain } from '../db/audit';
import { createDb, type Knex } from '../db/knex';
import { findMember, insertMember, updateMemberRole } from '../db/members';
import { findOrCreateUser, setPassword } from '../db/users';
import { findWorkspace } from '../db/workspaces';
import { rotateKeys } from '../db/key-rotation';
import { parseKeyring, type Keyring } from '../platform/crypto';
import { generatePassword, passwordSchema } from '../platform/passwords';
import { ROLES } from '../domain/roles';

const usage =
  'usage: access token create --workspace ID --role owner|finance|member|viewer --name NAME | token revoke --workspace ID --id TOKEN_ID | owner create --workspace ID --email EMAIL [--password-stdin] [--no-token] | audit verify --workspace ID | keys rotate [--batch N]';

const keyringFromEnv = (what: string) => parseKeyring(z.string().min(1, `WYSERA_ENCRYPTION_KEYS is required (${what})`).parse(process.env.WYSERA_ENCRYPTION_KEYS ?? ''));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing line break is the shell's (echo, a file), not the password's.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * First run: makes `email` an owner of the workspace, creating the user with a
 * generated password (or the one given on stdin) if there is none, and issues an
 * owner API token. Run again, it keeps the user and their password (unless one is
 * given) and only promotes them to owner if they were not.
 */
async function createOwner(db: Knex, ring: Keyring, workspaceId: string, email: string, opts: { password?: string; token: boolean }) {
  const generated = opts.password === undefined ? generatePassword() : undefined;
  return db.transaction(async (trx) => {
    const { user, created } = await findOrCreateUser(trx, ring, email, opts.password ?? generated!);
    if (!created && opts.password !== undefined) await setPassword(trx, user.id, opts.password);
    const before = await findMember(trx, ring, workspaceId, user.id);
    if (!before) {
      await insertMember(trx, ring, { workspaceId, userId: user.id, role: 'owner', addedBy: 'cli' });
      await appendAudit(trx, { workspaceId, actor: 'cli', action: 'member.added', targetType: 'user', targetId: user.id, before: null, after: { role: 'owner', userCreated: created } });
    } else if (before.role !== 'owner') {
      await updateMemberRole(trx, workspaceId, user.id, 'owner');
      await appendAudit(trx, { workspaceId, actor: 'cli', action: 'member.role_changed', targetType: 'user', targetId: user.id, before: { role: before.role }, after: { role: 'owner' } });
    }
    let token: { token: string; id: string } | undefined;
    if (opts.token) {
      const issued = await createApiToken(trx, { workspaceId, role: 'owner', name: `owner token (${user.id})`, createdBy: 'cli' });
      await appendAudit(trx, { workspaceId, actor: 'cli', action: 'token.created', targetType: 'api_token', targetId: issued.apiToken.id, after: { role: 'owner', name: issued.apiToken.name } });
      token = { token: issued.token, id: issued.apiToken.id };
    }
    return { user, created, password: created ? (generated ?? null) : null, token };
  });
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      workspace: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      id: { type: 'string' },
      batch: { type: 'string' },
      email: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      'no-token': { type: 'boolean', default: false },
    },
  });
  const databaseUrl = z.string().min(1, 'DATABASE_URL is required').parse(process.env.DATABASE_URL ?? '');
  const command = positionals.join(' ');
  const db = createDb(databaseUrl, 1);
  try {
    if (command === 'keys rotate') {
      // Every workspace at once: the keyring is the platform's, not a workspace's.
      const ring = keyringFromEnv('the new key first');
      const batchSize = z.coerce.number().int().min(1).max(10_000).parse(values.batch ?? 500);
      const report = await rotateKeys(db, ring, { batchSize, actor: 'cli', onBatch: (table, n) => console.error(`${table}: re-sealed ${n}`) });
      console.log(JSON.stringify(report));
      return 0;
    }
    const workspaceId = values.workspace;
    if (!workspaceId || !(await findWorkspace(db, workspaceId))) {
      console.error(workspaceId ? `no workspace ${workspaceId}` : `--workspace is required\n${usage}`);
      return 2;
    }
    switch (command) {
      case 'token create': {
        const role = z.enum(ROLES, { error: `--role must be one of ${ROLES.join(', ')}` }).parse(values.role);
        const name = values.name ?? `${role} token`;
        const { token, apiToken } = await db.transaction(async (trx) => {
          const created = await createApiToken(trx, { workspaceId, role, name, createdBy: 'cli' });
          await appendAudit(trx, { workspaceId, actor: 'cli', action: 'token.created', targetType: 'api_token', targetId: created.apiToken.id, after: { role, name } });
          return created;
        });
        console.log(JSON.stringify({ token, id: apiToken.id, workspaceId, role }));
        return 0;
      }
      case 'owner create': {
        const email = z.email({ error: '--email must be an email address' }).parse(values.email);
        let password: string | undefined;
        if (values['password-stdin']) {
          const parsed = passwordSchema.safeParse(await readStdin());
          if (!parsed.success) {
            console.error(`the password on stdin ${parsed.error.issues.map((i) => i.message).join('; ')}`);
            return 2;
          }
          password = parsed.data;
        }
        const result = await createOwner(db, keyringFromEnv('it seals the user\'s email'), workspaceId, email, { token: !values['no-token'], ...(password === undefined ? {} : { password }) });
        console.log(JSON.stringify({ workspaceId, userId: result.user.id, email: result.user.email, userCreated: result.created, password: result.password, token: result.token?.token ?? null, tokenId: result.token?.id ?? null }));
        console.error(
          [
            `${result.user.email} (${result.user.id}) is an owner of ${workspaceId}${result.created ? ' (new user)' : ''}`,
            result.password ? `password (shown once, keep it): ${result.password}` : password === undefined ? 'password: unchanged (existing user)' : 'password: set from stdin',
            ...(result.token ? [`owner API token (shown once, keep it): ${result.token.token}`] : []),
          ].join('\n'),
        );
        return 0;
      }
      case 'token revoke': {
        const id = values.id ?? '';
        const revoked = await db.transaction(async (trx) => {
          const token = await revokeApiToken(trx, workspaceId, id);
          if (token) await appendAudit(trx, { workspaceId, actor: 'cli', action: 'token.revoked', targetType: 'api_token', targetId: id });
          return token;
        });
        console.log(revoked ? `revoked ${id}` : `no live token ${id} in ${workspaceId}`);
        return revoked ? 0 : 1;
      }
      case 'audit verify': {
        const broken = await verifyAuditChain(db, workspaceId);
        console.log(broken ? `audit chain broken at entry ${broken.id}: ${broken.problem}` : 'audit chain intact');
        return broken ? 1 : 0;
      }
      default:
        console.error(usage);
        return 2;
    }
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof z.ZodError ? err.issues.map((i) => i.message).join('\n') : err);
    process.exit(1);
  },
);
