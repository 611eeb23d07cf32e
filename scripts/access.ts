/**
 * Access administration from the shell (direct database access, for first runs and
 * operators):
 *   npm run access -- token create --workspace ws_... --role owner --name "first owner"
 *   npm run access -- token revoke --workspace ws_... --id <token id>
 *   npm run access -- audit verify --workspace ws_...
 *   npm run access -- keys rotate [--batch 500]   (WYSERA_ENCRYPTION_KEYS: the new key first)
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createApiToken, revokeApiToken } from '../db/api-tokens';
import { appendAudit, verifyAuditChain } from '../db/audit';
import { createDb } from '../db/knex';
import { findWorkspace } from '../db/workspaces';
import { rotateKeys } from '../db/key-rotation';
import { parseKeyring } from '../platform/crypto';
import { ROLES } from '../domain/roles';

const usage = 'usage: access token create --workspace ID --role owner|finance|member|viewer --name NAME | token revoke --workspace ID --id TOKEN_ID | audit verify --workspace ID | keys rotate [--batch N]';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { workspace: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' }, batch: { type: 'string' } },
  });
  const databaseUrl = z.string().min(1, 'DATABASE_URL is required').parse(process.env.DATABASE_URL ?? '');
  const command = positionals.join(' ');
  const db = createDb(databaseUrl, 1);
  try {
    if (command === 'keys rotate') {
      // Every workspace at once: the keyring is the platform's, not a workspace's.
      const ring = parseKeyring(z.string().min(1, 'WYSERA_ENCRYPTION_KEYS is required (the new key first)').parse(process.env.WYSERA_ENCRYPTION_KEYS ?? ''));
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
