import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type GrpcRetryOptions } from '@temporalio/client';

/** A gRPC client interceptor, as `ConnectionOptions.interceptors` takes them. */
export type GrpcInterceptor = ReturnType<typeof makeGrpcRetryInterceptor>;
type Deadline = Parameters<GrpcInterceptor>[0]['deadline'];

/** Health checks are asked again by the probe that makes them, so they are never retried. */
const HEALTH_SERVICE = '/grpc.health.v1.Health/';

/** Passes every call's outcome through as is (an interceptor must return an intercepting call). */
const once = makeGrpcRetryInterceptor({ retryableDecider: () => false, delayFunction: () => 0 });

export interface TemporalRetries {
  /** Temporal's retry interceptor with its default backoff, bounded as described on {@link temporalRetries}. */
  interceptor: GrpcInterceptor;
  /**
   * Schedules no more retries and resolves once every retry already scheduled has started its
   * attempt. The channel can then be closed: no retry timer is left to fire on a closed channel,
   * where making the call throws ("Channel has been shut down") from the timer, uncaught.
   */
  drain(): Promise<void>;
}

function deadlineMs(deadline: Deadline): number {
  if (deadline === undefined) return Infinity;
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * Temporal's retries of failed calls (UNAVAILABLE and the like, with backoff up to 5 s), except:
 * a call is not retried when the retry would start after the call's deadline (it fails with its
 * last error, by its deadline, instead of waiting for a retry that can only time out); health
 * checks are not retried; and after {@link TemporalRetries.drain} nothing is retried.
 */
export function temporalRetries(backoff: GrpcRetryOptions = defaultGrpcRetryOptions()): TemporalRetries {
  let draining = false;
  let scheduled = 0;
  let drained: Promise<void> | undefined;
  let onDrained: (() => void) | undefined;

  const interceptor: GrpcInterceptor = (options, nextCall) => {
    if (draining || options.method_definition.path.startsWith(HEALTH_SERVICE)) return once(options, nextCall);
    const deadline = deadlineMs(options.deadline);
    // The retry interceptor asks the decider, then the delay: the delay chosen here is the one used.
    let delay = 0;
    const retrying = makeGrpcRetryInterceptor({
      retryableDecider(attempt, status) {
        if (draining || !backoff.retryableDecider(attempt, status)) return false;
        delay = backoff.delayFunction(attempt, status);
        if (Date.now() + delay >= deadline) return false;
        scheduled++;
        return true;
      },
      delayFunction: () => delay,
    });
    let attempts = 0;
    return retrying(options, (attemptOptions) => {
      // The first attempt is made at once; each later one is a scheduled retry whose timer fired.
      if (attempts++ === 0) return nextCall(attemptOptions);
      scheduled--;
      try {
        return nextCall(attemptOptions);
      } finally {
        if (scheduled === 0) onDrained?.();
      }
    });
  };

  return {
    interceptor,
    drain() {
      draining = true;
      drained ??= scheduled === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onDrained = resolve));
      return drained;
    },
  };
}
