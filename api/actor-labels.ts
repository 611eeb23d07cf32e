import { apiTokenNames } from '../db/api-tokens';
import type { Knex } from '../db/knex';
import { userEmails } from '../db/users';
import { actorLabel, parseActor } from '../domain/audit-actors';
import { roleAtLeast, type Role } from '../domain/roles';
import type { Keyring } from '../platform/crypto';

/**
 * Each distinct actor among `actors` (audit entries, who started a sync, who changed a
 * setting) as the pages name them (domain/audit-actors.ts): one query for the people,
 * one for the tokens, whatever their number.
 */
export async function actorLabels(db: Knex, keyring: Keyring, workspaceId: string, actors: readonly (string | null)[], reader?: Role): Promise<Record<string, string>> {
  const distinct = [...new Set(actors.filter((a): a is string => a !== null))];
  if (reader !== undefined && !roleAtLeast(reader, 'finance')) return Object.fromEntries(distinct.map((actor) => [actor, anonymousLabel(actor)]));
  const refs = distinct.map(parseActor);
  const idsOf = (kind: 'user' | 'token') => refs.flatMap((r) => (r.kind === kind ? [r.id] : []));
  const [emails, tokenNames] = await Promise.all([userEmails(db, keyring, idsOf('user')), apiTokenNames(db, workspaceId, idsOf('token'))]);
  return Object.fromEntries(distinct.map((actor) => [actor, actorLabel(actor, { userEmails: emails, tokenNames })]));
}

/** One actor's label for a reader of `reader`'s role (all roles alike when undefined); null for none. */
export async function actorName(db: Knex, keyring: Keyring, workspaceId: string, actor: string | null, reader?: Role): Promise<string | null> {
  return actor === null ? null : ((await actorLabels(db, keyring, workspaceId, [actor], reader))[actor] ?? actor);
}

/**
 * An actor as a viewer or member reads it: members' emails and tokens' names are for
 * finance and owners (the audit log, the members page), so below them a person is "a
 * member" and a token "an API token"; Wysera's own parts keep their names.
 */
function anonymousLabel(actor: string): string {
  const ref = parseActor(actor);
  if (ref.kind === 'user') return 'a member';
  if (ref.kind === 'token') return 'an API token';
  return actorLabel(actor, { userEmails: new Map(), tokenNames: new Map() });
}
