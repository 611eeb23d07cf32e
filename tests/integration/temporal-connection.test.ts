import { Connection, defaultGrpcRetryOptions, type GrpcRetryOptions } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createTemporalClient } from '../../platform/temporal';
import { temporalRetries } from '../../platform/temporal-retry';
import { sleep, strayErrors } from '../helpers/stray-errors';

// Nothing listens on port 1: every attempt is refused at once (UNAVAILABLE, which is retryable).
const REFUSED = '127.0.0.1:1';

/** Temporal's retry rule with a fixed delay, counting the retries it lets through. */
function fixedBackoff(delayMs: number): GrpcRetryOptions & { retries: number } {
  const stock = defaultGrpcRetryOptions();
  const backoff = {
    retries: 0,
    retryableDecider: (attempt: number, status: Parameters<GrpcRetryOptions['retryableDecider']>[1]) => {
      const retry = stock.retryableDecider(attempt, status);
      if (retry) backoff.retries++;
      return retry;
    },
    delayFunction: () => delayMs,
  };
  return backoff;
}

async function outcome(call: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  const message = await call().then(
    () => 'answered',
    (err: Error) => err.message,
  );
  return { message, ms: Date.now() - started };
}

describe("the API's Temporal connection", () => {
  it("retries a refused call within its deadline, and fails it rather than wait for a retry past the deadline", async () => {
    const backoff = fixedBackoff(2000);
    const connection = Connection.lazy({ address: REFUSED, interceptors: [temporalRetries(backoff).interceptor] });
    try {
      // A retry due in 2 s would start after a 500 ms deadline: the call fails at once instead.
      const late = await outcome(() => connection.withDeadline(Date.now() + 500, () => connection.workflowService.getSystemInfo({})));
      expect(late.message).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
      expect(late.ms).toBeLessThan(1500);

      const quick = fixedBackoff(50);
      const retrying = Connection.lazy({ address: REFUSED, interceptors: [temporalRetries(quick).interceptor] });
      try {
        const retried = await outcome(() => retrying.withDeadline(Date.now() + 400, () => retrying.workflowService.getSystemInfo({})));
        expect(retried.message).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
        expect(quick.retries).toBeGreaterThan(0);
      } finally {
        await retrying.close();
      }
    } finally {
      await connection.close();
    }
  });

  it('never retries a health check', async () => {
    const backoff = fixedBackoff(50);
    const connection = Connection.lazy({ address: REFUSED, interceptors: [temporalRetries(backoff).interceptor] });
    try {
      const check = await outcome(() => connection.healthService.check({}));
      expect(check.message).toMatch(/^14 UNAVAILABLE/);
      expect(backoff.retries).toBe(0);
    } finally {
      await connection.close();
    }
  });

  it('closing while a call waits to be retried fails the call, with no stray error', async () => {
    let result: string | undefined;
    const errors = await strayErrors(1500, async () => {
      const { connection } = createTemporalClient({ TEMPORAL_ADDRESS: REFUSED, TEMPORAL_NAMESPACE: 'default' });
      const call = connection.workflowService.getSystemInfo({}).then(
        () => 'answered',
        (err: Error) => err.message,
      );
      // The first attempt is refused at once; its retry is due ~100 ms later.
      await sleep(30);
      await connection.close();
      result = await Promise.race([call, sleep(3000).then(() => 'still pending')]);
    });
    expect(result).toMatch(/^14 UNAVAILABLE/);
    expect(errors).toEqual([]);
  });
});
