import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../platform/limiter';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('createLimiter', () => {
  it('runs at most `lanes` tasks at once, the rest in arrival order', async () => {
    const inLane = createLimiter(2);
    const started: number[] = [];
    const gates = new Map<number, () => void>();
    let running = 0;
    let most = 0;
    const task = (n: number) => () =>
      new Promise<number>((resolve) => {
        started.push(n);
        running++;
        most = Math.max(most, running);
        gates.set(n, () => {
          running--;
          resolve(n);
        });
      });
    const results = [1, 2, 3, 4].map((n) => inLane(task(n)));
    await tick();
    expect(started).toEqual([1, 2]);
    gates.get(2)!();
    await tick();
    // A newcomer while 3 waits for the freed lane does not jump ahead of 4.
    const late = inLane(task(5));
    await tick();
    expect(started).toEqual([1, 2, 3]);
    gates.get(1)!();
    await tick();
    expect(started).toEqual([1, 2, 3, 4]);
    for (const n of [3, 4]) gates.get(n)!();
    await tick();
    gates.get(5)!();
    expect(await Promise.all([...results, late])).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });

  it('frees the lane of a failed task', async () => {
    const inLane = createLimiter(1);
    await expect(inLane(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(inLane(() => Promise.resolve('next'))).resolves.toBe('next');
  });
});
