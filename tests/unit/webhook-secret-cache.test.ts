import { describe, expect, it } from 'vitest';
import { secretCache } from '../../api/webhooks';

/** A load whose reads wait until let go (or failed), each answering the secret as it was when it started. */
function heldLoad(initial: string) {
  let secret = initial;
  const held: { answer: string; release: () => void; fail: (err: Error) => void }[] = [];
  const load = () =>
    new Promise<string>((resolve, reject) => {
      const answer = secret;
      held.push({ answer, release: () => resolve(answer), fail: reject });
    });
  return { load, held, set: (next: string) => (secret = next) };
}

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
  it('reads a secret once within its time to live', async () => {
    const s = store({ ws_a: 'whsec_a' });
    const cache = secretCache(s.load, 60_000);
    expect(await cache.get('ws_a')).toBe('whsec_a');
    expect(await cache.get('ws_a')).toBe('whsec_a');
    expect(s.reads()).toBe(1);
  });

  it('remembers a workspace without a secret for an interval only, and finds a secret set since', async () => {
    const s = store({});
    const cache = secretCache(s.load, 60_000, 100, 200);
    for (let i = 0; i < 50; i++) expect(await cache.get('ws_none')).toBeUndefined();
    expect(s.reads()).toBe(1);
    s.set('ws_none', 'whsec_set');
    expect(await cache.get('ws_none')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 250));
    expect(await cache.get('ws_none')).toBe('whsec_set');
    expect(s.reads()).toBe(2);
  });

  it('reads a workspace once for the requests that come while it is read', async () => {
    const s = store({ ws_a: 'whsec_a' });
    const cache = secretCache(s.load, 60_000);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get(i % 2 ? 'ws_a' : 'ws_none')));
    expect(answers.filter((a) => a === 'whsec_a')).toHaveLength(10);
    expect(answers.filter((a) => a === undefined)).toHaveLength(10);
    expect(s.reads()).toBe(2);
  });

  it('keeps real secrets through a flood of made-up workspace ids', async () => {
    const s = store({ ws_a: 'whsec_a' });
    const cache = secretCache(s.load, 60_000, 10);
    await cache.get('ws_a');
    for (let i = 0; i < 100; i++) await cache.get(`ws_made_up_${i}`);
    const reads = s.reads();
    expect(await cache.get('ws_a')).toBe('whsec_a');
    expect(s.reads()).toBe(reads);
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
  it('keeps the answer of the read that started last: a slow read from before a secret was replaced does not bring the old one back', async () => {
    const { load, held, set } = heldLoad('whsec_old');
    const cache = secretCache(load, 60_000, 100, 200);
    const slow = cache.get('ws_a');
    set('whsec_new');
    // A signature by the new secret fails against none yet kept: read again, not joined to the slow read.
    const fresh = cache.fresher('ws_a', 'whsec_none');
    expect(held.map((h) => h.answer)).toEqual(['whsec_old', 'whsec_new']);
    // A request meanwhile joins the newer read.
    const joined = cache.get('ws_a');
    expect(held).toHaveLength(2);
    held[1]!.release();
    expect(await fresh).toBe('whsec_new');
    expect(await joined).toBe('whsec_new');
    held[0]!.release();
    expect(await slow).toBe('whsec_old');
    expect(await cache.get('ws_a')).toBe('whsec_new');
    expect(held).toHaveLength(2);
  });

  it('still tells a slow read it was overtaken when the newer answer has been let go for room', async () => {
    const { load, held, set } = heldLoad('whsec_old');
    const cache = secretCache(load, 60_000, 2, 200);
    const slow = cache.get('ws_a');
    set('whsec_new');
    const fresh = cache.fresher('ws_a', 'whsec_none');
    held[1]!.release();
    expect(await fresh).toBe('whsec_new');
    // Two other workspaces fill the room: ws_a's kept secret goes.
    for (const ws of ['ws_b', 'ws_c']) {
      const answer = cache.get(ws);
      held.at(-1)!.release();
      await answer;
    }
    held[0]!.release();
    expect(await slow).toBe('whsec_old');
    // Read again (it was let go), never answered with the slow read's old secret.
    const again = cache.get('ws_a');
    expect(held).toHaveLength(5);
    held[4]!.release();
    expect(await again).toBe('whsec_new');
  });

  it('lets the longest-kept secret go when full, not all of them', async () => {
    const s = store({ ws_a: 'whsec_a', ws_b: 'whsec_b', ws_c: 'whsec_c' });
    const cache = secretCache(s.load, 60_000, 2);
    for (const ws of ['ws_a', 'ws_b', 'ws_c']) await cache.get(ws);
    const reads = s.reads();
    expect(await cache.get('ws_c')).toBe('whsec_c');
    expect(await cache.get('ws_b')).toBe('whsec_b');
    expect(s.reads()).toBe(reads);
    expect(await cache.get('ws_a')).toBe('whsec_a');
    expect(s.reads()).toBe(reads + 1);
  });

  it('answers a failed signature right behind the one that began a fresh read with that read, not the old secret', async () => {
    const { load, held, set } = heldLoad('whsec_old');
    const cache = secretCache(load, 60_000, 100, 60_000);
    const first = cache.get('ws_a');
    held[0]!.release();
    expect(await first).toBe('whsec_old');
    set('whsec_new');
    // Two deliveries signed by the new secret fail against the old one, one right after the other.
    const one = cache.fresher('ws_a', 'whsec_old');
    const two = cache.fresher('ws_a', 'whsec_old');
    expect(held).toHaveLength(2);
    held[1]!.release();
    expect(await one).toBe('whsec_new');
    expect(await two).toBe('whsec_new');
    // Within the interval, with no read under way, a forged one is answered from memory.
    expect(await cache.fresher('ws_a', 'whsec_new')).toBeUndefined();
    expect(held).toHaveLength(2);
  });

  it('joins no read that failed, and a slower earlier read still counts when the newer one failed', async () => {
    const { load, held } = heldLoad('whsec_a');
    const cache = secretCache(load, 60_000, 100, 200);
    const slow = cache.get('ws_a');
    const fresh = cache.fresher('ws_a', 'whsec_none');
    held[1]!.fail(new Error('pool timeout'));
    await expect(fresh).rejects.toThrow('pool timeout');
    // The next request reads again rather than sharing the failure.
    const next = cache.get('ws_a');
    expect(held).toHaveLength(3);
    held[0]!.release();
    expect(await slow).toBe('whsec_a');
    // The slow read's answer is kept: a request now needs no read, nor waits for one.
    const now = await Promise.race([cache.get('ws_a'), new Promise((r) => setTimeout(() => r('still waiting'), 100))]);
    expect(now).toBe('whsec_a');
    held[2]!.release();
    expect(await next).toBe('whsec_a');
    expect(held).toHaveLength(3);
  });

  it('answers a failed signature from the kept secret when the read it waited for fails', async () => {
    const { load, held } = heldLoad('whsec_a');
    const cache = secretCache(load, 60_000, 100, 60_000);
    const first = cache.get('ws_a');
    held[0]!.release();
    await first;
    const one = cache.fresher('ws_a', 'whsec_forged');
    const two = cache.fresher('ws_a', 'whsec_forged');
    held[1]!.fail(new Error('pool timeout'));
    await expect(one).rejects.toThrow('pool timeout');
    expect(await two).toBe('whsec_a');
  });
});
