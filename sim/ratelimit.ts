/**
 * Stripe-like rate limiting per account: a token bucket holding one second's worth
 * of requests, refilled continuously. A refused request takes no token.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly limits = new Map<string, number>();

  constructor(
    private defaultRps: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  setLimit(rps: number, account?: string): void {
    if (account) this.limits.set(account, rps);
    else {
      this.defaultRps = rps;
      this.limits.clear();
    }
    if (account) this.buckets.delete(account);
    else this.buckets.clear();
  }

  limitOf(account: string): number {
    return this.limits.get(account) ?? this.defaultRps;
  }

  /** True when the request may proceed. A limit of 0 or less means unlimited. */
  take(account: string): boolean {
    const rps = this.limitOf(account);
    if (!(rps > 0)) return true;
    const now = this.clock();
    let bucket = this.buckets.get(account);
    if (!bucket) this.buckets.set(account, (bucket = { tokens: rps, at: now }));
    bucket.tokens = Math.min(rps, bucket.tokens + ((now - bucket.at) / 1000) * rps);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
