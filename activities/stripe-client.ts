import { createHash, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { z } from 'zod';
import { effectiveRate, fullBucket, pauseUntil, reserve, retryDelayMs, type Bucket, type BucketConfig } from '../domain/rate-limit';

/** Where Stripe requests go: api.stripe.com, or a stand-in (the simulator, stripe-mock). */
export interface StripeEndpoint {
  protocol: 'http' | 'https';
  host: string;
  port: number;
}

const baseUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:12111' })
  .transform((s) => new URL(s));

/**
 * STRIPE_API_BASE points every Stripe call at a stand-in server (the simulator in the
 * demo and benchmarks, stripe-mock in contract tests). Unset: api.stripe.com.
 */
export function stripeEndpointFromEnv(env: NodeJS.ProcessEnv = process.env): StripeEndpoint | undefined {
  const raw = env.STRIPE_API_BASE;
  if (!raw) return undefined;
  const parsed = baseUrl.safeParse(raw);
  if (!parsed.success) throw new Error(`STRIPE_API_BASE ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  return endpointOf(parsed.data);
}

export function endpointOf(url: URL | string): StripeEndpoint {
  const u = typeof url === 'string' ? new URL(url) : url;
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return { protocol, host: u.hostname, port: u.port ? Number(u.port) : protocol === 'http' ? 80 : 443 };
}

/** Counts of what a workspace's client sent; the benchmark and tests read them. */
export interface StripeCallStats {
  requests: number;
  retries: number;
  rateLimited: number;
  serverErrors: number;
  networkErrors: number;
}

/** Milliseconds as seconds for a message: 0.5, 20. */
const seconds = (ms: number) => Number((ms / 1000).toFixed(1));

/**
 * A call that would have waited longer than its caller allows for the workspace's rate
 * limit: nothing was reserved, so it costs the calls behind it nothing.
 */
export class StripeBacklogError extends Error {
  constructor(
    readonly waitMs: number,
    readonly maxWaitMs: number,
  ) {
    super(`the workspace's Stripe rate limit is booked ${seconds(waitMs)} s ahead, longer than this call may wait (${seconds(maxWaitMs)} s)`);
    this.name = 'StripeBacklogError';
  }
}

/** The one token bucket of a workspace: every Stripe call it makes takes a token. */
export class RateLimiter {
  private bucket: Bucket;
  private config: BucketConfig;

  constructor(ratePerSecond: number, private readonly now: () => number = Date.now) {
    // A burst of one spaces requests evenly, so no one-second window ever holds
    // more than the rate, whatever window the server measures with.
    this.config = { ratePerSecond, burst: 1 };
    this.bucket = fullBucket(this.config, now());
  }

  get ratePerSecond(): number {
    return this.config.ratePerSecond;
  }

  setRate(ratePerSecond: number): void {
    this.config = { ...this.config, ratePerSecond };
  }

  /**
   * Waits for the caller's token. With `maxWaitMs`, a call that would wait longer takes
   * no token and throws StripeBacklogError at once.
   */
  async acquire(maxWaitMs = Infinity): Promise<void> {
    const { bucket, waitMs } = reserve(this.bucket, this.config, this.now());
    if (waitMs > maxWaitMs) throw new StripeBacklogError(waitMs, maxWaitMs);
    this.bucket = bucket;
    if (waitMs > 0) await sleep(waitMs);
  }

  /** Stripe said "slow down": nobody in this workspace sends before `ms` from now. */
  pause(ms: number): void {
    this.bucket = pauseUntil(this.bucket, this.now() + ms);
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt for 429, 5xx and network failures. */
  maxRetries: number;
  /** The longest an attempt waits for the rate limit; beyond it, StripeBacklogError. Unset: no bound. */
  maxQueueMs?: number | undefined;
}

type MakeRequest = Stripe.HttpClient['makeRequest'];

function header(res: Stripe.HttpClientResponse, name: string): string | undefined {
  const v = res.getHeaders()[name];
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? String(v[0]) : String(v);
}

/**
 * When each answer's request went out (performance.now()), after any wait for the rate
 * limit and any earlier attempts: keyed by the raw response, which stripe-node hands on
 * as the result's `lastResponse`. A read is dated by its own round trip (activities/stripe-dated.ts).
 */
const sentAt = new WeakMap<object, number>();

/** When the request that `lastResponse` answers went out (performance.now()), if it went through a PacedHttpClient. */
export function requestSentAt(lastResponse: object): number | undefined {
  return sentAt.get(lastResponse);
}

/**
 * The HTTP layer under stripe-node: takes a token from the workspace's limiter
 * before every attempt (retries included, so retries never push us over the limit)
 * and retries 429, 5xx and network failures with backoff that honours Retry-After
 * and Stripe-Should-Retry. A 429 pauses the whole workspace, not just this call.
 * POSTs are retried only with an Idempotency-Key, so a retry can never apply twice.
 * stripe-node's own retries are switched off (maxNetworkRetries: 0): they do not
 * retry 429s and would bypass the limiter.
 */
export class PacedHttpClient implements Stripe.HttpClient {
  constructor(
    private readonly inner: Stripe.HttpClient,
    private readonly limiter: RateLimiter,
    private readonly policy: RetryPolicy,
    readonly stats: StripeCallStats,
  ) {}

  getClientName(): string {
    return `paced-${this.inner.getClientName()}`;
  }

  async makeRequest(...args: Parameters<MakeRequest>): ReturnType<MakeRequest> {
    const [, , , method, headers] = args;
    const retriable = method === 'GET' || method === 'DELETE' || Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key');
    for (let attempt = 1; ; attempt++) {
      await this.limiter.acquire(this.policy.maxQueueMs);
      this.stats.requests++;
      let res: Stripe.HttpClientResponse;
      const attemptedAt = performance.now();
      try {
        res = await this.inner.makeRequest(...args);
      } catch (err) {
        this.stats.networkErrors++;
        if (!retriable || attempt > this.policy.maxRetries) throw err;
        this.stats.retries++;
        await sleep(retryDelayMs(attempt, undefined, randomInt(1000) / 1000));
        continue;
      }
      const status = res.getStatusCode();
      if (status === 429) this.stats.rateLimited++;
      if (status >= 500) this.stats.serverErrors++;
      const shouldRetry = header(res, 'stripe-should-retry');
      const again = (status === 429 || status >= 500) && shouldRetry !== 'false' && (retriable || status === 429 || shouldRetry === 'true');
      if (!again || attempt > this.policy.maxRetries) {
        const raw = res.getRawResponse();
        if (typeof raw === 'object' && raw !== null) sentAt.set(raw, attemptedAt);
        return res;
      }
      const retryAfter = header(res, 'retry-after');
      const delay = retryDelayMs(attempt, retryAfter === undefined ? undefined : Number(retryAfter), randomInt(1000) / 1000);
      if (status === 429) this.limiter.pause(delay);
      // The body of a refused response is not needed: release the socket.
      if (res.dispose) res.dispose();
      else await res.toJSON().catch(() => undefined);
      this.stats.retries++;
      await sleep(delay);
    }
  }
}

export interface WorkspaceStripeAccess {
  workspaceId: string;
  apiKey: string;
  stripeAccount?: string | null | undefined;
  livemode: boolean;
  /** The workspace's configured rate (settings.stripeRateLimitRps); defaults by mode. */
  rateLimitRps?: number | undefined;
}

export interface StripeClientsOptions {
  /** Unset: api.stripe.com. */
  endpoint?: StripeEndpoint | undefined;
  retry?: RetryPolicy;
  /** Per-request timeout. */
  timeoutMs?: number;
}

/**
 * Stripe clients per workspace, with one limiter per workspace shared by every call
 * this process makes for it (sync, relay refetches, plays): build one StripeClients
 * per process and pass it to every activity factory.
 */
export class StripeClients {
  private readonly limiters = new Map<string, RateLimiter>();
  private readonly stats = new Map<string, StripeCallStats>();
  private readonly clients = new Map<string, { keyDigest: string; stripe: Stripe }>();
  readonly endpoint: StripeEndpoint | undefined;

  constructor(private readonly opts: StripeClientsOptions = {}) {
    this.endpoint = opts.endpoint;
  }

  rateFor(access: Pick<WorkspaceStripeAccess, 'livemode' | 'rateLimitRps'>): number {
    return effectiveRate({ configured: access.rateLimitRps, livemode: access.livemode, realStripe: !this.endpoint });
  }

  limiter(workspaceId: string, ratePerSecond: number): RateLimiter {
    let limiter = this.limiters.get(workspaceId);
    if (!limiter) {
      limiter = new RateLimiter(ratePerSecond);
      this.limiters.set(workspaceId, limiter);
    } else if (limiter.ratePerSecond !== ratePerSecond) {
      limiter.setRate(ratePerSecond);
    }
    return limiter;
  }

  statsOf(workspaceId: string): StripeCallStats {
    let s = this.stats.get(workspaceId);
    if (!s) {
      s = { requests: 0, retries: 0, rateLimited: 0, serverErrors: 0, networkErrors: 0 };
      this.stats.set(workspaceId, s);
    }
    return s;
  }

  /**
   * The workspace's client (cached; rebuilt when the key changes). With `maxQueueMs`,
   * its calls wait at most that long for the workspace's rate limit (a separate cached
   * client on the same limiter): for callers that have a better place to wait than a
   * queue, such as a workflow's durable timer.
   */
  forWorkspace(access: WorkspaceStripeAccess, maxQueueMs?: number): Stripe {
    const keyDigest = createHash('sha256').update(`${access.apiKey}\0${access.stripeAccount ?? ''}`).digest('hex');
    const cacheKey = `${access.workspaceId}\0${maxQueueMs ?? ''}`;
    const cached = this.clients.get(cacheKey);
    const limiter = this.limiter(access.workspaceId, this.rateFor(access));
    if (cached?.keyDigest === keyDigest) return cached.stripe;
    const stripe = this.build(access.apiKey, access.stripeAccount, limiter, this.statsOf(access.workspaceId), { ...(this.opts.retry ?? { maxRetries: 6 }), maxQueueMs });
    this.clients.set(cacheKey, { keyDigest, stripe });
    return stripe;
  }

  /**
   * A client for a key that belongs to no workspace yet (validating a new
   * connection): its own limiter at the mode's default rate, and few retries so an
   * unreachable Stripe is reported in seconds.
   */
  forCandidate(apiKey: string, stripeAccount: string | null | undefined, livemode: boolean): { stripe: Stripe; stats: StripeCallStats } {
    const stats: StripeCallStats = { requests: 0, retries: 0, rateLimited: 0, serverErrors: 0, networkErrors: 0 };
    const limiter = new RateLimiter(this.rateFor({ livemode }));
    return { stripe: this.build(apiKey, stripeAccount, limiter, stats, { maxRetries: 1 }), stats };
  }

  private build(apiKey: string, stripeAccount: string | null | undefined, limiter: RateLimiter, stats: StripeCallStats, retry: RetryPolicy): Stripe {
    const e = this.endpoint;
    return new Stripe(apiKey, {
      httpClient: new PacedHttpClient(Stripe.createNodeHttpClient(), limiter, retry, stats),
      maxNetworkRetries: 0,
      timeout: this.opts.timeoutMs ?? 30_000,
      telemetry: false,
      appInfo: { name: 'Wysera' },
      ...(stripeAccount ? { stripeAccount } : {}),
      ...(e ? { host: e.host, port: e.port, protocol: e.protocol } : {}),
    });
  }
}
