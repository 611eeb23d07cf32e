/**
 * Runs at most `lanes` tasks at once; the others wait their turn in the order they came.
 * A finished task hands its lane straight to the next waiting one, so a newcomer never
 * jumps the queue.
 */
export function createLimiter(lanes: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < lanes) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      release();
    }
  };
}
