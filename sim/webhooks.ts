import Stripe from 'stripe';

/**
 * Delivers events to registered endpoints the way Stripe does: a JSON POST with a
 * `Stripe-Signature: t=...,v1=...` header (HMAC-SHA256 of `t.payload` with the
 * endpoint's secret), retried with backoff until a 2xx or the attempts run out.
 */
export interface WebhookEndpoint {
  id: string;
  url: string;
  secret: string;
  /** Events of this account only. */
  account: string;
}

export interface WebhookStats {
  delivered: number;
  failedAttempts: number;
  gaveUp: number;
  pending: number;
}

const signer = new Stripe('sk_test_signing_only');

export class WebhookSender {
  readonly endpoints: WebhookEndpoint[] = [];
  readonly stats: WebhookStats = { delivered: 0, failedAttempts: 0, gaveUp: 0, pending: 0 };
  private active = 0;
  private readonly queue: Array<() => Promise<void>> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly opts: { retryDelaysMs: readonly number[]; concurrency: number; timeoutMs: number },
  ) {}

  add(endpoint: WebhookEndpoint): void {
    this.endpoints.push(endpoint);
  }

  remove(id: string): boolean {
    const i = this.endpoints.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.endpoints.splice(i, 1);
    return true;
  }

  publish(event: Stripe.Event, account: string): void {
    if (this.stopped) return;
    const payload = JSON.stringify(event, null, 2);
    for (const endpoint of this.endpoints) {
      if (endpoint.account !== account) continue;
      this.stats.pending++;
      this.enqueue(() => this.attempt(endpoint, payload, 0));
    }
  }

  /** Resolves when nothing is queued, in flight or waiting for a retry. */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.pending > 0) {
      if (Date.now() > deadline) throw new Error(`webhooks still pending: ${this.stats.pending}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as () => Promise<void>;
      this.active++;
      void job().finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async attempt(endpoint: WebhookEndpoint, payload: string, attempt: number): Promise<void> {
    if (this.stopped) return;
    let ok: boolean;
    try {
      const header = signer.webhooks.generateTestHeaderString({ payload, secret: endpoint.secret, timestamp: Math.floor(Date.now() / 1000) });
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': header, 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
        body: payload,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      ok = res.status >= 200 && res.status < 300;
    } catch {
      ok = false;
    }
    if (ok) {
      this.stats.delivered++;
      this.stats.pending--;
      return;
    }
    this.stats.failedAttempts++;
    const delay = this.opts.retryDelaysMs[attempt];
    if (delay === undefined || this.stopped) {
      this.stats.gaveUp++;
      this.stats.pending--;
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.enqueue(() => this.attempt(endpoint, payload, attempt + 1));
    }, delay);
    this.timers.add(timer);
  }
}
