import { describe, expect, it } from 'vitest';
import { secretCache } from '../../api/webhooks';

/** A store of secrets by workspace that counts how often it is read. */
function store(initial: Record<string, string>) {
  const secrets = new Map(Object.entries(initial));
  let reads = 0;
  return {
    load: (id: string) => {
      reads++;
      return Promise.resolve(secrets.get(id));
    },
    set: (id: string, secret: string) => secrets.set(id, secret),
    reads: () => reads,
  };
}

describe('the ingress keeps webhook secrets', () => {
  it('reads a secret once within its time to live, and never keeps an unknown workspace', async () => {
    const s = store({ ws_a: 'whsec_a' });
    const cache = secretCache(s.load, 60_000);
    expect(await cache.get('ws_a')).toBe('whsec_a');
    expect(await cache.get('ws_a')).toBe('whsec_a');
    expect(s.reads()).toBe(1);
    expect(await cache.get('ws_none')).toBeUndefined();
    expect(await cache.get('ws_none')).toBeUndefined();
    expect(s.reads()).toBe(3);
  });

  it('finds a replaced secret at the first failed signature, then reads again at most once per interval', async () => {
    const s = store({ ws_a: 'whsec_old' });
    const cache = secretCache(s.load, 60_000, 100, 200);
    await cache.get('ws_a');
    s.set('ws_a', 'whsec_new');
    expect(await cache.get('ws_a')).toBe('whsec_old');
    expect(await cache.fresher('ws_a', 'whsec_old')).toBe('whsec_new');
    expect(await cache.get('ws_a')).toBe('whsec_new');
    const reads = s.reads();
    // Forged signatures against the new secret: answered from memory within the interval.
    for (let i = 0; i < 50; i++) expect(await cache.fresher('ws_a', 'whsec_new')).toBeUndefined();
    expect(s.reads()).toBe(reads);
    await new Promise((r) => setTimeout(r, 250));
    expect(await cache.fresher('ws_a', 'whsec_new')).toBeUndefined();
    expect(s.reads()).toBe(reads + 1);
  });
});
