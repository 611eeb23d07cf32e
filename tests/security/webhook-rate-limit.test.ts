import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { errorHandler } from '../../api/errors';
import { securityHeaders, webhookAdmission, webhookRateLimit } from '../../api/hardening';

/**
 * The webhook limiter and the security headers as Express's webhook route mounts them,
 * in front of an endpoint that answers 200: the headers each answer carries, the count
 * per workspace, and the window's end. (The front door applies the same two; the
 * webhook front door test holds its answers to this route's.)
 */
describe('webhook rate limit and security headers', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Express's X-Powered-By left on: the security headers must remove it themselves.
    const app = express();
    app.use(securityHeaders());
    const admission = webhookAdmission(2);
    // As the ingress does: a delivery counts once its signature holds (here: unless it says it is forged).
    app.post('/webhooks/stripe/:workspaceId', webhookRateLimit(admission), (req: express.Request<{ workspaceId: string }>, res) => {
      if (req.get('x-forged') === undefined) admission.count(req.params.workspaceId);
      res.json({ received: true });
    });
    app.use(errorHandler(pino({ level: 'silent' })));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const deliver = (workspace: string, headers: Record<string, string> = {}) => fetch(`${url}/webhooks/stripe/${workspace}`, { method: 'POST', body: '{}', headers });

  it("sends helmet's headers and draft-8 RateLimit headers, then 429 with Retry-After past the limit", async () => {
    const first = await deliver('ws_rl_a');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(first.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    expect(first.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(first.headers.get('x-powered-by')).toBeNull();
    expect(first.headers.get('ratelimit')).toBe('"2-in-1min"; r=1; t=60');
    // The partition key is express-rate-limit's: base64 of the first 12 hex digits of SHA-256("webhook:<id>").
    expect(first.headers.get('ratelimit-policy')).toBe('"2-in-1min"; q=2; w=60; pk=:NTNjMDA4ODc1MDUw:');

    expect((await deliver('ws_rl_a')).headers.get('ratelimit')).toBe('"2-in-1min"; r=0; t=60');
    const limited = await deliver('ws_rl_a');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(limited.headers.get('x-content-type-options')).toBe('nosniff');
    expect(((await limited.json()) as { error: { message: string } }).error.message).toMatch(/too many webhook deliveries for this workspace \(limit 2 a minute\)/);

    // Another workspace has its own count.
    const other = await deliver('ws_rl_b');
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit')).toBe('"2-in-1min"; r=1; t=60');
  });

  it('counts only the deliveries the endpoint counts (signed ones): forged ones do not use up the limit', async () => {
    for (let i = 0; i < 5; i++) expect((await deliver('ws_rl_f', { 'x-forged': '1' })).status).toBe(200);
    expect((await deliver('ws_rl_f')).headers.get('ratelimit')).toBe('"2-in-1min"; r=1; t=60');
    expect((await deliver('ws_rl_f')).status).toBe(200);
    expect((await deliver('ws_rl_f')).status).toBe(429);
  });

  it("starts a new window a minute after the workspace's first delivery", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    for (let i = 0; i < 2; i++) expect((await deliver('ws_rl_c')).status).toBe(200);
    vi.setSystemTime(new Date('2026-01-01T00:00:45Z'));
    const limited = await deliver('ws_rl_c');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('15');
    vi.setSystemTime(new Date('2026-01-01T00:01:00Z'));
    const again = await deliver('ws_rl_c');
    expect(again.status).toBe(200);
    expect(again.headers.get('ratelimit')).toBe('"2-in-1min"; r=1; t=60');
  });
});
