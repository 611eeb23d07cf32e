import { describe, expect, it } from 'vitest';
import { createBatchQueue, createBatcher } from '../../platform/batcher';

/** A flush that records its batches and waits until released. */
function gatedFlush() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const flush = async (items: number[]) => {
    batches.push(items);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    if (items.includes(-1)) throw new Error('bad batch');
  };
  return { flush, batches, release: () => gates.shift()?.(), maxRunning: () => maxRunning };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('createBatcher', () => {
  it('flushes an item alone when idle', async () => {
    const f = gatedFlush();
    const add = createBatcher(f.flush);
    const done = add(1);
    await tick();
    expect(f.batches).toEqual([[1]]);
    f.release();
    await done;
  });

  it('sends what arrives during a flush together in the next one, one flush at a time', async () => {
    const f = gatedFlush();
    const add = createBatcher(f.flush);
    const first = add(1);
    await tick();
    const later = [add(2), add(3), add(4)];
    await tick();
    // Still waiting for the first flush.
    expect(f.batches).toEqual([[1]]);
    f.release();
    await first;
    await tick();
    expect(f.batches).toEqual([[1], [2, 3, 4]]);
    f.release();
    await Promise.all(later);
    expect(f.maxRunning()).toBe(1);
  });

  it("fails only the items of a failed batch; the next batch still goes", async () => {
    const f = gatedFlush();
    const add = createBatcher(f.flush);
    const first = add(1);
    await tick();
    const bad = [add(-1), add(5)];
    await tick();
    f.release();
    await first;
    await tick();
    const after = add(6);
    f.release();
    await expect(bad[0]).rejects.toThrow('bad batch');
    await expect(bad[1]).rejects.toThrow('bad batch');
    await tick();
    expect(f.batches).toEqual([[1], [-1, 5], [6]]);
    f.release();
    await expect(after).resolves.toBeUndefined();
  });
});

describe('createBatchQueue', () => {
  /** A flush that records its batches, waits until released and settles each item: negative ones fail. */
  function settlingFlush() {
    const batches: number[][] = [];
    const gates: (() => void)[] = [];
    const flush = async (items: number[]): Promise<PromiseSettledResult<string>[]> => {
      batches.push(items);
      await new Promise<void>((resolve) => gates.push(resolve));
      return items.map((i) => (i < 0 ? { status: 'rejected', reason: new Error(`item ${i} refused`) } : { status: 'fulfilled', value: `stored ${i}` }));
    };
    return { flush, batches, release: () => gates.shift()?.(), running: () => gates.length };
  }

  it('runs up to `concurrency` flushes at once and gathers what arrives meanwhile into the next', async () => {
    const f = settlingFlush();
    const add = createBatchQueue(f.flush, 2);
    const first = add(1);
    await tick();
    const second = add(2);
    await tick();
    // Two flushes under way, each with the item that found a free slot.
    expect(f.batches).toEqual([[1], [2]]);
    const later = [add(3), add(4), add(5)];
    await tick();
    expect(f.running()).toBe(2);
    f.release();
    await expect(first).resolves.toBe('stored 1');
    await tick();
    expect(f.batches).toEqual([[1], [2], [3, 4, 5]]);
    f.release();
    f.release();
    await expect(second).resolves.toBe('stored 2');
    await expect(Promise.all(later)).resolves.toEqual(['stored 3', 'stored 4', 'stored 5']);
  });

  it('takes at most `maxBatch` items in a batch, the earliest first, and sends the rest in the next', async () => {
    const f = settlingFlush();
    const add = createBatchQueue(f.flush, 2, 2);
    const first = add(1);
    await tick();
    const later = [add(2), add(3), add(4), add(5), add(6)];
    await tick();
    // One flush under way with a free slot: the next takes two, and three wait.
    expect(f.batches).toEqual([[1], [2, 3]]);
    f.release();
    await expect(first).resolves.toBe('stored 1');
    await tick();
    expect(f.batches).toEqual([[1], [2, 3], [4, 5]]);
    f.release();
    f.release();
    await tick();
    expect(f.batches).toEqual([[1], [2, 3], [4, 5], [6]]);
    f.release();
    await expect(Promise.all(later)).resolves.toEqual(['stored 2', 'stored 3', 'stored 4', 'stored 5', 'stored 6']);
  });

  it('settles each item with its own result: one refused item fails alone', async () => {
    const f = settlingFlush();
    const add = createBatchQueue(f.flush, 1);
    const items = [add(7), add(-3), add(8)];
    await tick();
    // Added in one synchronous run: one batch.
    expect(f.batches).toEqual([[7, -3, 8]]);
    f.release();
    const settled = await Promise.allSettled(items);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['stored 7', 'item -3 refused', 'stored 8']);
  });

  it('fails the whole batch when the flush throws or settles the wrong number of items', async () => {
    const add = createBatchQueue(async (items: number[]) => {
      await tick();
      if (items.includes(0)) throw new Error('flush failed');
      return [{ status: 'fulfilled' as const, value: items.length }];
    });
    const thrown = [add(0), add(1)];
    await expect(thrown[0]).rejects.toThrow('flush failed');
    await expect(thrown[1]).rejects.toThrow('flush failed');
    const short = [add(2), add(3)];
    await expect(short[0]).rejects.toThrow('a batch of 2 items was settled with 1 results');
    await expect(short[1]).rejects.toThrow('a batch of 2 items was settled with 1 results');
    // The queue goes on.
    await expect(add(4)).resolves.toBe(1);
  });
});
