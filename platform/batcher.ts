/**
 * Gathers items that arrive one by one into batches for `flush`: an item waits for the
 * flush under way (if any) to end, then goes with every item that arrived meanwhile in
 * one call. One flush runs at a time, so under load each call takes all that piled up
 * while the previous one ran, and an idle batcher flushes an item at once.
 *
 * The promise an item gets settles with its batch: rejected with the batch's error if
 * the flush failed (every item of that batch then failed; later items are unaffected).
 */
export function createBatcher<T>(flush: (items: T[]) => Promise<void>): (item: T) => Promise<void> {
  let waiting: T[] = [];
  /** The next batch's flush, once an item waits for it. */
  let next: Promise<void> | undefined;
  /** The flush under way. */
  let current: Promise<void> = Promise.resolve();

  return (item: T) => {
    waiting.push(item);
    if (!next) {
      next = current
        .catch(() => undefined)
        .then(() => {
          const items = waiting;
          waiting = [];
          next = undefined;
          current = flush(items);
          return current;
        });
    }
    return next;
  };
}
