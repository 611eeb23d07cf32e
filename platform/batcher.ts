/**
 * Gathers items that arrive one by one into batches for `flush`: while `concurrency`
 * flushes are under way, an item waits, then goes with every item that arrived
 * meanwhile in one call. So under load each call takes all that piled up while the
 * others ran, and an idle queue flushes an item at once (with whatever else arrived in
 * the same tick).
 *
 * A batch holds at most `maxBatch` items, the earliest waiting; the rest go in the
 * next. `flush` settles each item of its batch (same order, same length): one item may fail
 * while its batchmates succeed. A flush that throws fails every item of its batch;
 * later batches are unaffected.
 */
export function createBatchQueue<T, R>(
  flush: (items: T[]) => Promise<readonly PromiseSettledResult<R>[]>,
  concurrency = 1,
  maxBatch = Number.POSITIVE_INFINITY,
): (item: T) => Promise<R> {
  if (!(maxBatch >= 1)) throw new Error(`a batch must hold at least one item, not ${maxBatch}`);
  type Waiter = { item: T; resolve: (result: R) => void; reject: (reason: unknown) => void };
  let waiting: Waiter[] = [];
  /** Flushes under way, and those started but not yet taken their batch. */
  let running = 0;

  const start = () => {
    running++;
    // On a microtask, so that items added in the same synchronous run share the batch.
    queueMicrotask(() => {
      // Two flushes ending together may each start one for the same waiting items: the
      // second then finds none left.
      if (waiting.length === 0) {
        running--;
        return;
      }
      const batch = waiting.length > maxBatch ? waiting.splice(0, maxBatch) : waiting;
      if (batch === waiting) waiting = [];
      // What a full batch left waiting goes at once if another flush may run.
      else if (running < concurrency) start();
      void Promise.resolve()
        .then(() => flush(batch.map((w) => w.item)))
        .then(
          (results) => {
            if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} items was settled with ${results.length} results`);
            batch.forEach((w, i) => {
              const result = results[i]!;
              if (result.status === 'fulfilled') w.resolve(result.value);
              else w.reject(result.reason);
            });
          },
        )
        .catch((err: unknown) => batch.forEach((w) => w.reject(err)))
        .finally(() => {
          running--;
          if (waiting.length > 0 && running < concurrency) start();
        });
    });
  };

  return (item: T) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      // A flush started but not yet under way takes this item too.
      if (waiting.length === 1 && running < concurrency) start();
    });
}

/**
 * createBatchQueue for a flush that succeeds or fails as a whole, one flush at a time:
 * an item waits for the flush under way (if any) to end, then goes with every item
 * that arrived meanwhile. The promise an item gets settles with its batch.
 */
export function createBatcher<T>(flush: (items: T[]) => Promise<void>): (item: T) => Promise<void> {
  return createBatchQueue<T, void>(async (items) => {
    await flush(items);
    return items.map(() => ({ status: 'fulfilled', value: undefined }));
  }, 1);
}
