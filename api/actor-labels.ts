import { apiTokenNames } from '../db/api-tokens';
import type { Knex } from '../db/knex';
import { userEmails } from '../db/users';
import { actorLabel, parseActor } from '../domain/audit-actors';
import type { Keyring } from '../platform/crypto';

/**
 * Each distinct actor among `actors` (audit entries, who started a sync, who changed a
 * setting) as the pages name them (domain/audit-actors.ts): one query for the people,
 * one for the tokens, whatever their number.
 */
export async function actorLabels(db: Knex, keyring: Keyring, workspaceId: string, actors: readonly (string | null)[]): Promise<Record<string, string>> {
  const distinct = [...new Set(actors.filter((a): a is string => a !== null))];
  const refs = distinct.map(parseActor);
  const idsOf = (kind: 'user' | 'token') => refs.flatMap((r) => (r.kind === kind ? [r.id] : []));
  const [emails, tokenNames] = await Promise.all([userEmails(db, keyring, idsOf('user')), apiTokenNames(db, workspaceId, idsOf('token'))]);
  return Object.fromEntries(distinct.map((actor) => [actor, actorLabel(actor, { userEmails: emails, tokenNames })]));
}

/** One actor's label; null for none. */
export async function actorName(db: Knex, keyring: Keyring, workspaceId: string, actor: string | null): Promise<string | null> {
  return actor === null ? null : ((await actorLabels(db, keyring, workspaceId, [actor]))[actor] ?? actor);
}
