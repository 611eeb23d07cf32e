export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Errors nobody handled (a timer's throw, a rejection nobody awaits) while `fn` runs and for
 * `settleMs` after it, when a late timer would fire.
 */
export async function strayErrors(settleMs: number, fn: () => Promise<void>): Promise<string[]> {
  const errors: string[] = [];
  const record = (err: unknown) => errors.push(err instanceof Error ? err.message : String(err));
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  try {
    await fn();
    await sleep(settleMs);
  } finally {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  }
  return errors;
}
