import { describe, expect, it } from 'vitest';
import { actorLabel, parseActor } from '../../domain/audit-actors';

describe('audit actors', () => {
  const names = { userEmails: new Map([['usr_a', 'ada@acme.example']]), tokenNames: new Map([['tok123', 'BI export']]) };

  it('reads every stored form, and keeps anything else as stored', () => {
    expect(parseActor('user:usr_a')).toEqual({ kind: 'user', id: 'usr_a' });
    expect(parseActor('token:tok123')).toEqual({ kind: 'token', id: 'tok123' });
    expect(parseActor('system:dunning')).toEqual({ kind: 'system', part: 'dunning' });
    expect(parseActor('operator')).toEqual({ kind: 'operator' });
    expect(parseActor('cli')).toEqual({ kind: 'cli' });
    for (const odd of ['user:', 'token', 'test', 'operator:x', '']) expect(parseActor(odd)).toEqual({ kind: 'other', actor: odd });
  });

  it('names people by email and tokens by name, and an id nothing is known of stays traceable', () => {
    expect(actorLabel('user:usr_a', names)).toBe('ada@acme.example');
    expect(actorLabel('user:usr_gone', names)).toBe('an unknown user (usr_gone)');
    expect(actorLabel('token:tok123', names)).toBe('API token "BI export"');
    expect(actorLabel('token:tokOther', names)).toBe('an API token no longer listed (tokOther)');
    expect(actorLabel('system:dunning', names)).toBe('Wysera (dunning)');
    expect(actorLabel('system:key_rotation', names)).toBe('Wysera (key rotation)');
    expect(actorLabel('operator', names)).toBe('the operator (server token)');
    expect(actorLabel('cli', names)).toBe('the command line (npm run access)');
    expect(actorLabel('test', names)).toBe('test');
  });
});
