import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../platform/batcher';

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
