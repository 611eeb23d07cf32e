import { describe, expect, it } from 'vitest';
import { customerKey, PassPicker, WALK_BACKOFF, walkBackoffMs, type PendingMark } from '../../domain/relay-pass';

/**
 * Pending events in arrival order (seq 1..) from a line of tokens: `1` is an event of
 * cus_1 that is due, `1?` one that waits for a retry, `-` and `-?` events without a customer.
 */
const walk = (line: string, workspaceId = 'ws_a'): PendingMark[] =>
  line.split(' ').map((token, i) => ({
    seq: i + 1,
    workspaceId,
    customerId: token.startsWith('-') ? null : `cus_${token.replace('?', '')}`,
    due: !token.endsWith('?'),
  }));

function pick(events: PendingMark[], heads: number, limit: number, busy: string[] = []): PassPicker {
  const picker = new PassPicker(heads, limit, new Set(busy));
  for (const e of events) picker.offer(e);
  return picker;
}

describe('PassPicker: which walked events a relay pass takes', () => {
  it('takes each customer from its earliest pending event, with its later events, in arrival order', () => {
    const picker = pick(walk('1 2 1 2'), 10, 100);
    expect(picker.seqs).toEqual([1, 2, 3, 4]);
    expect([...picker.taken.keys()]).toEqual(['ws_a/cus_1', 'ws_a/cus_2']);
  });

  it('holds back a customer whose earliest pending event waits for a retry, with all its later events, due or not', () => {
    const picker = pick(walk('1? 2 1 1'), 10, 100);
    expect(picker.seqs).toEqual([2]);
    expect([...picker.taken.keys()]).toEqual(['ws_a/cus_2']);
  });

  it('keeps a taken customer’s later events even when one is not due (the relay cuts the stream there)', () => {
    expect(pick(walk('1 1? 1'), 10, 100).seqs).toEqual([1, 2, 3]);
  });

  it('leaves out busy customers entirely, events without a customer included', () => {
    const picker = pick(walk('1 - 2 1'), 10, 100, [customerKey('ws_a', 'cus_1'), customerKey('ws_a', null)]);
    expect(picker.seqs).toEqual([3]);
  });

  it('takes due events without a customer as their workspace’s one stream; a deferred one holds back nothing', () => {
    const picker = pick(walk('-? - 1 -'), 2, 100);
    expect(picker.seqs).toEqual([2, 3, 4]);
    expect([...picker.taken.keys()]).toEqual(['ws_a/', 'ws_a/cus_1']);
  });

  it('takes at most `heads` customers; customers met after that stay, their later events too', () => {
    const picker = pick(walk('1 2 3 2 3 1'), 2, 100);
    expect(picker.seqs).toEqual([1, 2, 4, 6]);
    expect(picker.full).toBe(false);
  });

  it('stops at `limit` events: each taken customer keeps a prefix of its events', () => {
    const picker = pick(walk('1 2 1 2 1'), 10, 3);
    expect(picker.seqs).toEqual([1, 2, 3]);
    expect(picker.full).toBe(true);
  });

  it('tells customers of different workspaces apart', () => {
    const events = [...walk('1', 'ws_a'), ...walk('1', 'ws_b').map((e) => ({ ...e, seq: 2 }))];
    const picker = pick(events, 10, 100, [customerKey('ws_a', 'cus_1')]);
    expect(picker.seqs).toEqual([2]);
    expect([...picker.taken.keys()]).toEqual(['ws_b/cus_1']);
  });
});

describe('PassPicker.blocked: the walked events no room in the pass would have let it take', () => {
  it('counts the events of held-back and busy customers, and deferred events without a customer', () => {
    const picker = pick(walk('1? 2 1 3 1 -? 3 2'), 10, 100, ['ws_a/cus_3']);
    expect(picker.seqs).toEqual([2, 8]);
    // cus_1's three (held back by its first), cus_3's two (busy), the deferred one without a customer.
    expect(picker.blocked).toBe(6);
  });

  it('does not count customers left out only because the pass has its heads, nor anything once it is full', () => {
    expect(pick(walk('1 2 3 1 2 3'), 1, 100).blocked).toBe(0);
    const full = pick(walk('1 1 2? 2'), 10, 2);
    expect(full.seqs).toEqual([1, 2]);
    expect(full.blocked).toBe(0);
  });
});

describe('walkBackoffMs: the pause after a read spent walking events it could not take', () => {
  it('costs no pause while the blocked events are at most a pass’s worth, however far the walk went', () => {
    expect(walkBackoffMs(30, 1_250, 1_250, 1_250)).toBe(0);
    // Catching up on customers that can all go: a long walk, nothing blocked.
    expect(walkBackoffMs(150, 25_000, 0, 1_250)).toBe(0);
  });

  it('waits WALK_BACKOFF times the share of the read spent on them', () => {
    // Everything walked was blocked.
    expect(walkBackoffMs(100, 50_000, 50_000, 1_250)).toBe(WALK_BACKOFF * 100);
    // A pass found behind a held-back head three times its size: three quarters.
    expect(walkBackoffMs(100, 5_000, 3_750, 1_250)).toBe(WALK_BACKOFF * 75);
  });

  it('keeps walking blocked events to at most 1 / (1 + WALK_BACKOFF) of the time, whatever a read takes', () => {
    for (const readMs of [1, 40, 900]) {
      const walkingShare = readMs / (readMs + walkBackoffMs(readMs, 100_000, 100_000, 1_250));
      expect(walkingShare).toBeCloseTo(1 / (1 + WALK_BACKOFF), 10);
    }
  });
});
