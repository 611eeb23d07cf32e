import type { Db } from './knex';
import { parseRedactionSetting, type RedactionSetting } from '../domain/redaction';

/**
 * A workspace's redaction setting lives in workspaces.settings under "redaction"
 * (settings keeps keys other features write).
 */
export async function loadRedactionSetting(db: Db, workspaceId: string): Promise<RedactionSetting> {
  const row = await db('workspaces').select(db.raw(`settings -> 'redaction' as redaction`)).where({ id: workspaceId }).first<{ redaction: unknown } | undefined>();
  return parseRedactionSetting(row?.redaction ?? undefined);
}

export async function storeRedactionSetting(db: Db, workspaceId: string, setting: RedactionSetting): Promise<boolean> {
  const updated = await db('workspaces')
    .where({ id: workspaceId })
    .update({ settings: db.raw(`jsonb_set(settings, '{redaction}', ?::jsonb)`, [JSON.stringify(setting)]) });
  return updated > 0;
}
