/**
 * Token-bucket arithmetic for pacing Stripe requests. Pure: the caller owns the
 * clock and the sleeping. A reservation may drive the bucket negative: each caller
 * then waits for its own token, so concurrent callers are served in arrival order
 * without a queue, and the rate holds however many callers there are.
 */
export interface BucketConfig {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens the bucket holds: how many requests may go back to back after a pause. */
  burst: number;
}

export interface Bucket {
  tokens: number;
  atMs: number;
}

export function fullBucket(config: BucketConfig, nowMs: number): Bucket {
  return { tokens: config.burst, atMs: nowMs };
}

/** Takes one token; returns the new bucket and how long the caller waits before sending. */
export function reserve(bucket: Bucket, config: BucketConfig, nowMs: number): { bucket: Bucket; waitMs: number } {
  // A bucket that is in the future (after a pause) refills from then, not from now.
  const from = Math.max(bucket.atMs, nowMs);
  const refilled = bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * config.ratePerSecond) / 1000;
  const tokens = Math.min(config.burst, refilled) - 1;
  const untilStart = Math.max(0, bucket.atMs - nowMs);
  const waitMs = untilStart + (tokens >= 0 ? 0 : (-tokens * 1000) / config.ratePerSecond);
  return { bucket: { tokens, atMs: from }, waitMs };
}

/**
 * Holds every later reservation until `untilMs` (Stripe asked us to back off): the
 * bucket restarts empty then, keeping the debt of callers already waiting.
 */
export function pauseUntil(bucket: Bucket, untilMs: number): Bucket {
  if (untilMs <= bucket.atMs) return bucket;
  return { tokens: Math.min(0, bucket.tokens), atMs: untilMs };
}

/** Stripe's documented ceilings: 100 read requests/s live, 25/s in test mode. */
export const STRIPE_LIMIT_RPS = { live: 100, test: 25 } as const;
/** Our defaults stay below them, leaving room for the account's other integrations. */
export const DEFAULT_LIMIT_RPS = { live: 80, test: 20 } as const;

/**
 * The rate a workspace's calls run at: the configured one, never above Stripe's
 * ceiling for the mode when the calls go to Stripe itself. A stand-in server (the
 * simulator, stripe-mock) enforces its own limit, so it is not capped.
 */
export function effectiveRate(opts: { configured?: number | undefined; livemode: boolean; realStripe: boolean }): number {
  const mode = opts.livemode ? 'live' : 'test';
  const wanted = opts.configured ?? DEFAULT_LIMIT_RPS[mode];
  return opts.realStripe ? Math.min(wanted, STRIPE_LIMIT_RPS[mode]) : wanted;
}

/**
 * Delay before retry `attempt` (1-based) of a refused request: Stripe's Retry-After
 * when it sends one, else exponential from 500 ms capped at 8 s, with up to 25%
 * jitter (passed in, so the arithmetic stays pure) so callers do not retry in step.
 */
export function retryDelayMs(attempt: number, retryAfterSeconds: number | undefined, jitter01: number): number {
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) {
    return Math.min(60_000, retryAfterSeconds * 1000);
  }
  const base = Math.min(8000, 500 * 2 ** (attempt - 1));
  return Math.round(base * (1 + 0.25 * Math.min(1, Math.max(0, jitter01))));
}
