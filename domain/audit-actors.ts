/**
 * Who made an audit entry, as the log stores it (`user:<id>`, `token:<id>`,
 * `system:<part>`, `operator`, `cli`), and how the audit page names them: the log
 * keeps ids, which stay true when an email or a token's name changes, and the page
 * shows what people recognise.
 */
export type ActorRef =
  | { kind: 'user'; id: string }
  | { kind: 'token'; id: string }
  | { kind: 'system'; part: string }
  | { kind: 'operator' }
  | { kind: 'cli' }
  | { kind: 'other'; actor: string };

export function parseActor(actor: string): ActorRef {
  const [prefix, rest] = splitOnce(actor);
  if (prefix === 'user' && rest) return { kind: 'user', id: rest };
  if (prefix === 'token' && rest) return { kind: 'token', id: rest };
  if (prefix === 'system' && rest) return { kind: 'system', part: rest };
  if (actor === 'operator') return { kind: 'operator' };
  if (actor === 'cli') return { kind: 'cli' };
  return { kind: 'other', actor };
}

function splitOnce(actor: string): [string, string] {
  const at = actor.indexOf(':');
  return at < 0 ? [actor, ''] : [actor.slice(0, at), actor.slice(at + 1)];
}

/** What is known of the people and tokens an entry names (looked up by id). */
export interface ActorNames {
  userEmails: ReadonlyMap<string, string>;
  tokenNames: ReadonlyMap<string, string>;
}

/** An actor as the audit page shows it; an id nothing is known of stays in the label, so it can be traced. */
export function actorLabel(actor: string, names: ActorNames): string {
  const ref = parseActor(actor);
  switch (ref.kind) {
    case 'user':
      return names.userEmails.get(ref.id) ?? `an unknown user (${ref.id})`;
    case 'token': {
      const name = names.tokenNames.get(ref.id);
      return name === undefined ? `an API token no longer listed (${ref.id})` : `API token "${name}"`;
    }
    case 'system':
      return `Wysera (${ref.part.replaceAll(/[_-]/g, ' ')})`;
    case 'operator':
      return 'the operator (server token)';
    case 'cli':
      return 'the command line (npm run access)';
    case 'other':
      return ref.actor;
  }
}
