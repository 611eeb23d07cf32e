/**
 * Runs `deleteBatch` (one short delete of at most `batch` rows, answering how many it
 * deleted) until a batch comes back short, calling `onBatch` with the running total
 * after each; `onBatch` answering false stops early (a worker shutting down). Answers
 * how many rows went in all. The retentions' shared loop: each delete is a statement
 * of its own, so no long transaction holds locks or bloats while a big backlog goes.
 */
export async function deleteInBatches(deleteBatch: () => Promise<number>, batch: number, onBatch?: (pruned: number) => boolean | void): Promise<number> {
  let pruned = 0;
  for (;;) {
    const deleted = await deleteBatch();
    pruned += deleted;
    if (onBatch?.(pruned) === false || deleted < batch) return pruned;
  }
}
