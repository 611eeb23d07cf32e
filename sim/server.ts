import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type Stripe from 'stripe';
import { z } from 'zod';
import { API_VERSION, SimAccount, type GenerateOptions } from './account';
import { PaymentDeclined, ROUTES, type Route } from './api';
import { stripeJson } from './embedded-lists';
import { apiError, invalidRequest, rateLimited, StripeHttpError, unrecognizedUrl } from './errors';
import { expand, expandPaths } from './expand';
import { parseForm, type Form } from './form';
import { checkPermission, KeyRing, RESOURCES, targetAccount, WYSERA_PERMISSIONS, type Permissions } from './keys';
import { productSignals } from './product-usage';
import { Rng } from './random';
import { RateLimiter } from './ratelimit';
import { WebhookSender, type WebhookEndpoint, type WebhookStats } from './webhooks';

export interface SimulatorOptions {
  seed?: number | string;
  customers?: number;
  months?: number;
  /** Simulated "now" at start, Unix seconds (default: the wall clock). */
  now?: number;
  accountId?: string;
  /** Connected accounts reachable with the platform key and a Stripe-Account header. */
  connected?: Array<Partial<GenerateOptions>>;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Requests per second per account before 429s; 0 disables limiting. Default 25 (Stripe's test mode). */
  rateLimit?: number;
  /** Extra restricted keys; each account always gets one with the project's permissions. */
  restrictedKeys?: Array<{ key?: string; permissions: Permissions; account?: string }>;
  webhookRetryDelaysMs?: number[];
  webhookConcurrency?: number;
}

export interface AccountInfo {
  id: string;
  /** Full-access test key of this account. */
  secretKey: string;
  /** Restricted key with the permissions Wysera asks for (see keys.ts). */
  restrictedKey: string;
  /** Connected accounts are reached with the platform's key plus `Stripe-Account`. */
  platform: string | null;
}

export type OutageMode = 'error' | 'timeout' | 'down';

export interface Outage {
  mode: OutageMode;
  /** Only this account's requests fail; all when absent. */
  account?: string;
  until: number | null;
}

export interface SimStats {
  requests: number;
  byPath: Record<string, number>;
  byStatus: Record<string, number>;
  byAccount: Record<string, number>;
  rateLimited: number;
  rateLimitedByAccount: Record<string, number>;
  pagesServed: number;
  outageRefusals: number;
  /** The most requests a `timeout` outage held unanswered at once: how many a client had waiting on it together. */
  hangingPeak: number;
  webhooks: WebhookStats;
}

/** One /v1 request as the simulator saw it (status 0: no answer, e.g. an outage cut it). */
export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  /** The raw query string, including the leading `?` when there is one. */
  query: string;
  account: string | null;
  status: number;
}

export interface Simulator {
  url: string;
  port: number;
  /** The platform account first, then connected accounts. */
  accounts: AccountInfo[];
  account(id?: string): SimAccount;
  keys: KeyRing;
  advance(seconds: number, accountId?: string): void;
  addWebhookEndpoint(url: string, secret: string, accountId?: string): WebhookEndpoint;
  removeWebhookEndpoint(id: string): boolean;
  /** Resolves when every webhook so far is delivered or given up. */
  webhooksIdle(timeoutMs?: number): Promise<void>;
  setOutage(outage: { mode: OutageMode; durationMs?: number; accountId?: string }): void;
  clearOutage(): void;
  /**
   * A full stop: the port is closed, so connections are refused (ECONNREFUSED), for
   * `durationMs` or until acceptConnections(). The control API is unreachable meanwhile.
   */
  refuseConnections(durationMs?: number): Promise<void>;
  acceptConnections(): Promise<void>;
  setRateLimit(rps: number, accountId?: string): void;
  addRestrictedKey(permissions: Permissions, accountId?: string): string;
  revokeKey(key: string): boolean;
  stats(): SimStats;
  /** The most recent /v1 requests (up to 200,000), oldest first; cleared by resetStats(). */
  requests(): LoggedRequest[];
  resetStats(): void;
  stop(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const MAX_LOG = 200_000;

function emptyStats(webhooks: WebhookStats): SimStats {
  return { requests: 0, byPath: {}, byStatus: {}, byAccount: {}, rateLimited: 0, rateLimitedByAccount: {}, pagesServed: 0, outageRefusals: 0, hangingPeak: 0, webhooks };
}

/** Starts an HTTP server speaking the Stripe API for generated accounts. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const seed = opts.seed ?? 1;
  // Listen first: the hosted invoice pages' URLs, generated with the history, need the port.
  // Requests wait until the accounts exist.
  let markReady = (): void => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    void ready
      .then(() => handle(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { type: 'api_error', message: err instanceof Error ? err.message : 'internal error' } });
      });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const baseUrl = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const hostedInvoiceBase = `${baseUrl}/_sim/hosted/invoices`;
  let refuseTimer: NodeJS.Timeout | null = null;
  let stopped = false;

  let platform: SimAccount;
  try {
    platform = new SimAccount({
      seed,
      customers: opts.customers ?? 300,
      months: opts.months ?? 24,
      hostedInvoiceBase,
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      ...(opts.accountId ? { accountId: opts.accountId } : {}),
    });
  } catch (err) {
    server.close();
    throw err;
  }
  const accounts = new Map<string, SimAccount>([[platform.id, platform]]);
  const infos: AccountInfo[] = [];
  const keys = new KeyRing();
  const keyRng = new Rng(`keys:${String(seed)}`);
  const addAccountKeys = (account: SimAccount, platformId: string | null): void => {
    const secret = keys.add({ key: `sk_test_51${keyRng.token(96)}`, account: account.id, permissions: 'all', revoked: false });
    const restricted = keys.add({ key: `rk_test_51${keyRng.token(96)}`, account: account.id, permissions: WYSERA_PERMISSIONS, revoked: false });
    infos.push({ id: account.id, secretKey: secret.key, restrictedKey: restricted.key, platform: platformId });
  };
  addAccountKeys(platform, null);
  try {
  (opts.connected ?? []).forEach((c, i) => {
    const account = new SimAccount({
      seed: c.seed ?? `${String(seed)}:connected:${i}`,
      customers: c.customers ?? Math.max(10, Math.round((opts.customers ?? 300) / 3)),
      months: c.months ?? opts.months ?? 24,
      now: c.now ?? opts.now ?? platform.now,
      connected: true,
      hostedInvoiceBase,
      ...(c.accountId ? { accountId: c.accountId } : {}),
    });
    accounts.set(account.id, account);
    addAccountKeys(account, platform.id);
  });
  } catch (err) {
    server.close();
    throw err;
  }
  for (const extra of opts.restrictedKeys ?? []) {
    keys.add({ key: extra.key ?? `rk_test_51${keyRng.token(96)}`, account: extra.account ?? platform.id, permissions: extra.permissions, revoked: false });
  }
  const connectedTo = (p: string): string[] => infos.filter((i) => i.platform === p).map((i) => i.id);

  const webhooks = new WebhookSender({ retryDelaysMs: opts.webhookRetryDelaysMs ?? [1_000, 2_000, 4_000, 8_000, 16_000], concurrency: opts.webhookConcurrency ?? 4, timeoutMs: 10_000 });
  for (const account of accounts.values()) account.onEvent = (event) => webhooks.publish(event, account.id);

  const limiter = new RateLimiter(opts.rateLimit ?? 25);
  let stats = emptyStats(webhooks.stats);
  let log: LoggedRequest[] = [];
  let outage: Outage | null = null;
  const hanging = new Set<ServerResponse>();

  const activeOutage = (account: string): Outage | null => {
    if (!outage) return null;
    if (outage.until !== null && Date.now() >= outage.until) {
      clearOutage();
      return null;
    }
    if (outage.account && outage.account !== account) return null;
    return outage;
  };
  const clearOutage = (): void => {
    outage = null;
    // Requests held by a timeout outage are cut off: the client already gave up or will.
    for (const res of hanging) res.socket?.destroy();
    hanging.clear();
  };
  const getAccount = (id?: string): SimAccount => {
    const account = accounts.get(id ?? platform.id);
    if (!account) throw new Error(`no simulated account ${id}`);
    return account;
  };

  const sim: Simulator = {
    url: '',
    port: 0,
    accounts: infos,
    account: getAccount,
    keys,
    advance(seconds, accountId) {
      const targets = accountId ? [getAccount(accountId)] : [...accounts.values()];
      for (const account of targets) account.advance(seconds);
    },
    addWebhookEndpoint(url, secret, accountId) {
      const endpoint: WebhookEndpoint = { id: `we_${randomBytes(12).toString('hex')}`, url, secret, account: getAccount(accountId).id };
      webhooks.add(endpoint);
      return endpoint;
    },
    removeWebhookEndpoint: (id) => webhooks.remove(id),
    webhooksIdle: (timeoutMs) => webhooks.idle(timeoutMs),
    setOutage({ mode, durationMs, accountId }) {
      clearOutage();
      outage = { mode, until: durationMs ? Date.now() + durationMs : null, ...(accountId ? { account: getAccount(accountId).id } : {}) };
    },
    clearOutage,
    setRateLimit: (rps, accountId) => limiter.setLimit(rps, accountId ? getAccount(accountId).id : undefined),
    addRestrictedKey(permissions, accountId) {
      return keys.add({ key: `rk_test_51${randomBytes(48).toString('hex')}`, account: getAccount(accountId).id, permissions, revoked: false }).key;
    },
    revokeKey: (key) => keys.revoke(key),
    stats: () => structuredClone(stats),
    requests: () => log.map((r) => ({ ...r })),
    resetStats() {
      stats = emptyStats(webhooks.stats);
      log = [];
    },
    async refuseConnections(durationMs) {
      if (refuseTimer) clearTimeout(refuseTimer);
      refuseTimer = durationMs ? setTimeout(() => void sim.acceptConnections(), durationMs) : null;
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async acceptConnections() {
      if (refuseTimer) clearTimeout(refuseTimer);
      refuseTimer = null;
      if (server.listening || stopped) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, opts.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async stop() {
      stopped = true;
      if (refuseTimer) clearTimeout(refuseTimer);
      webhooks.stop();
      for (const account of accounts.values()) account.onEvent = null;
      clearOutage();
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };


  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const requestId = `req_${randomBytes(7).toString('hex')}`;
    res.setHeader('Request-Id', requestId);
    if (url.pathname.startsWith('/_sim/')) {
      await control(req, res, url);
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/\/+$/, '');
    stats.requests++;
    const entry: LoggedRequest = { at: Date.now(), method, path, query: url.search, account: null, status: 0 };
    if (log.length >= MAX_LOG) log.splice(0, log.length - MAX_LOG + 1);
    log.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    try {
      const auth = keys.authenticate(req.headers.authorization);
      if (auth instanceof StripeHttpError) throw auth;
      const accountHeader = req.headers['stripe-account'];
      const target = targetAccount(auth, Array.isArray(accountHeader) ? accountHeader[0] : accountHeader, connectedTo);
      if (target instanceof StripeHttpError) throw target;
      const account = getAccount(target);
      // Stripe dates its answers by its own clock; here that is the account's simulated
      // time, the clock its objects and events are stamped with.
      res.setHeader('Date', new Date(account.now * 1000).toUTCString());
      entry.account = account.id;
      stats.byAccount[account.id] = (stats.byAccount[account.id] ?? 0) + 1;
      const down = activeOutage(account.id);
      if (down) {
        stats.outageRefusals++;
        if (down.mode === 'down') {
          req.socket.destroy();
          return;
        }
        if (down.mode === 'timeout') {
          hanging.add(res);
          stats.hangingPeak = Math.max(stats.hangingPeak, hanging.size);
          res.on('close', () => hanging.delete(res));
          return;
        }
        throw apiError();
      }
      if (!limiter.take(account.id)) {
        stats.rateLimited++;
        stats.rateLimitedByAccount[account.id] = (stats.rateLimitedByAccount[account.id] ?? 0) + 1;
        throw rateLimited();
      }
      const match = findRoute(method, path);
      if (!match) throw unrecognizedUrl(method, path);
      const { route, ids } = match;
      stats.byPath[`${method} ${route.path}`] = (stats.byPath[`${method} ${route.path}`] ?? 0) + 1;
      if (route.resource) {
        const denied = checkPermission(auth, account.id, route.resource, route.access);
        if (denied) throw denied;
      }
      const params = await readParams(req, url, method);
      const reachable = (id: string): SimAccount | undefined => (id === account.id || connectedTo(account.id).includes(id) ? accounts.get(id) : undefined);
      // Stripe replays a POST with a seen Idempotency-Key instead of running it again.
      const idemHeader = req.headers['idempotency-key'];
      const idemKey = method === 'POST' && typeof idemHeader === 'string' && idemHeader ? `${auth.key}|${account.id}|${idemHeader}` : null;
      const replay = idemKey ? idempotent.get(idemKey) : undefined;
      if (replay) {
        res.setHeader('Idempotent-Replayed', 'true');
        send(res, replay.status, replay.body);
        return;
      }
      let status = 200;
      let body: unknown;
      account.request = method === 'POST' ? { id: requestId, idempotency_key: typeof idemHeader === 'string' ? idemHeader : null } : null;
      try {
        body = expand(account, route.handle({ account, params, ids, baseUrl, reachable, onPage: () => stats.pagesServed++ }), expandPaths(params.expand));
      } catch (err) {
        const answer = errorAnswer(err);
        if (!answer) throw err;
        ({ status, body } = answer);
      } finally {
        account.request = null;
      }
      if (idemKey) remember(idemKey, { status, body });
      send(res, status, body);
      return;
    } catch (err) {
      if (err instanceof StripeHttpError) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      const answer = errorAnswer(err);
      if (!answer) throw err;
      send(res, answer.status, answer.body);
    }
  }

  const idempotent = new Map<string, { status: number; body: unknown }>();
  function remember(key: string, answer: { status: number; body: unknown }): void {
    // Stripe keeps keys for 24 hours; a bounded map is enough for a simulator.
    if (idempotent.size >= 10_000) idempotent.delete(idempotent.keys().next().value as string);
    idempotent.set(key, answer);
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
    const text = stripeJson(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Stripe-Version': API_VERSION });
    res.end(text);
  }

  // ---- control API (for the launcher, a separate process) -----------------------

  const advanceBody = z.object({ seconds: z.number().int().min(0).max(10 * 365 * 86_400), account: z.string().optional() });
  const outageBody = z
    .object({ mode: z.enum(['error', 'timeout', 'down', 'refuse']), durationMs: z.number().int().positive().optional(), account: z.string().optional() })
    // Once the port is closed nobody can ask for it to open again.
    .refine((b) => b.mode !== 'refuse' || b.durationMs !== undefined, { message: 'mode refuse needs durationMs', path: ['durationMs'] })
    .refine((b) => b.mode !== 'refuse' || b.account === undefined, { message: 'mode refuse stops the whole simulator, not one account', path: ['account'] });
  const rateBody = z.object({ rps: z.number().min(0), account: z.string().optional() });
  const webhookBody = z.object({ url: z.url(), secret: z.string().min(1), account: z.string().optional() });
  const keyBody = z.object({ permissions: z.partialRecord(z.enum(RESOURCES), z.enum(['read', 'write'])), account: z.string().optional() });
  const revokeBody = z.object({ key: z.string().min(1) });
  const productSignalsQuery = z.object({ days: z.coerce.number().int().min(1).max(400).default(60), account: z.string().optional() });

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const parse = async <T>(schema: z.ZodType<T>): Promise<T | null> => {
      const raw = await readBody(req);
      let json: unknown;
      try {
        json = raw ? JSON.parse(raw) : {};
      } catch {
        reply(400, { error: 'body is not JSON' });
        return null;
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        reply(400, { error: 'invalid body', issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
        return null;
      }
      const account = (parsed.data as { account?: string }).account;
      if (account && !accounts.has(account)) {
        reply(404, { error: `no simulated account ${account}` });
        return null;
      }
      return parsed.data;
    };
    if (method === 'GET' && path === '/_sim/product-signals') {
      // What the account's product would send Wysera's signals API, one JSON signal a line (sim/product-usage.ts).
      const query = productSignalsQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success) return reply(400, { error: 'invalid query', issues: query.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
      const id = query.data.account;
      if (id && !accounts.has(id)) return reply(404, { error: `no simulated account ${id}` });
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      const lines: string[] = [];
      // A live simulator's clock runs ahead of the wall clock; a product reports only what has happened.
      const account = sim.account(id);
      for (const signal of productSignals(account, query.data.days, Math.min(account.now, Math.floor(Date.now() / 1000)))) {
        lines.push(JSON.stringify(signal));
        if (lines.length === 1000) res.write(`${lines.splice(0).join('\n')}\n`);
      }
      res.end(lines.length ? `${lines.join('\n')}\n` : '');
      return;
    }
    if (method === 'GET' && path === '/_sim/info') return reply(200, info());
    if (method === 'GET' && path === '/_sim/stats') return reply(200, sim.stats());
    if (method === 'GET' && path === '/_sim/requests') return reply(200, { data: sim.requests() });
    if (method === 'POST' && path === '/_sim/stats/reset') return (sim.resetStats(), reply(200, sim.stats()));
    if (method === 'POST' && path === '/_sim/advance') {
      const body = await parse(advanceBody);
      if (!body) return;
      sim.advance(body.seconds, body.account);
      return reply(200, info());
    }
    if (method === 'POST' && path === '/_sim/outage') {
      const body = await parse(outageBody);
      if (!body) return;
      if (body.mode === 'refuse') {
        reply(200, { refusingForMs: body.durationMs });
        res.on('finish', () => void sim.refuseConnections(body.durationMs));
        return;
      }
      sim.setOutage({ mode: body.mode, ...(body.durationMs ? { durationMs: body.durationMs } : {}), ...(body.account ? { accountId: body.account } : {}) });
      return reply(200, { outage });
    }
    if (method === 'DELETE' && path === '/_sim/outage') return (clearOutage(), reply(200, { outage: null }));
    if (method === 'POST' && path === '/_sim/rate-limit') {
      const body = await parse(rateBody);
      if (!body) return;
      sim.setRateLimit(body.rps, body.account);
      return reply(200, { rps: body.rps, account: body.account ?? null });
    }
    if (method === 'POST' && path === '/_sim/webhooks') {
      const body = await parse(webhookBody);
      if (!body) return;
      const endpoint = sim.addWebhookEndpoint(body.url, body.secret, body.account);
      return reply(200, { id: endpoint.id, url: endpoint.url, account: endpoint.account });
    }
    const hook = /^\/_sim\/webhooks\/([^/]+)$/.exec(path);
    if (method === 'DELETE' && hook) return reply(sim.removeWebhookEndpoint(hook[1] as string) ? 200 : 404, { id: hook[1] });
    if (method === 'POST' && path === '/_sim/keys') {
      const body = await parse(keyBody);
      if (!body) return;
      return reply(200, { key: sim.addRestrictedKey(body.permissions, body.account) });
    }
    if (method === 'POST' && path === '/_sim/keys/revoke') {
      const body = await parse(revokeBody);
      if (!body) return;
      return reply(sim.revokeKey(body.key) ? 200 : 404, { revoked: body.key.slice(0, 8) });
    }
    const hosted = /^\/_sim\/hosted\/invoices\/([^/]+)\/([^/]+?)(\/pay)?$/.exec(path);
    if (hosted) {
      const account = accounts.get(hosted[1] as string);
      const invoiceId = account?.hostedInvoices.get(hosted[2] as string);
      const invoice = invoiceId ? account?.invoices.get(invoiceId) : undefined;
      if (!account || !invoice) return reply(404, { error: 'no such invoice page' });
      if (method === 'POST' && hosted[3]) {
        // Paying on the hosted page: a new card, which goes through.
        if (invoice.status === 'open' || invoice.status === 'uncollectible') {
          invoice.status = 'open';
          account.payInvoice(invoice, 'new_card');
        }
        res.writeHead(303, { Location: path.slice(0, -'/pay'.length) });
        res.end();
        return;
      }
      if (method === 'GET' && !hosted[3]) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(hostedInvoicePage(account, invoice, path));
        return;
      }
    }
    const portal = /^\/_sim\/portal\/([^/]+)$/.exec(path);
    if (method === 'GET' && portal) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Billing portal (simulated)</title><h1>Billing portal</h1><p>Session ${escapeHtml(portal[1] as string)}: the simulator has no real portal; payment details are updated here in a real Stripe account.</p>`);
      return;
    }
    reply(404, { error: `unknown control endpoint ${method} ${path}` });
  }

  function info(): unknown {
    return {
      url: sim.url,
      apiVersion: API_VERSION,
      accounts: infos.map((i) => ({ ...i, now: getAccount(i.id).now, rateLimit: limiter.limitOf(i.id) })),
      outage,
    };
  }

  sim.url = baseUrl;
  sim.port = port;
  markReady();
  return sim;
}

function errorAnswer(err: unknown): { status: number; body: unknown } | null {
  if (err instanceof StripeHttpError) return { status: err.status, body: err.body };
  if (err instanceof PaymentDeclined) {
    return {
      status: 402,
      body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.', doc_url: 'https://docs.stripe.com/error-codes/card-declined' } },
    };
  }
  return null;
}

function findRoute(method: string, path: string): { route: Route; ids: string[] } | null {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, ids: m.slice(1).map((s) => decodeURIComponent(s)) };
  }
  return null;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw invalidRequest('Request body too large', { status: 413 });
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** GET parameters come in the query string; POST ones in the form body (stripe-node sends both that way). */
async function readParams(req: IncomingMessage, url: URL, method: string): Promise<Form> {
  const query = parseForm(url.search.slice(1));
  if (method !== 'POST') return query;
  const type = req.headers['content-type'] ?? '';
  const raw = await readBody(req);
  if (raw && !type.includes('application/x-www-form-urlencoded')) {
    throw invalidRequest('Invalid request: request body must be application/x-www-form-urlencoded', { status: 400 });
  }
  return { ...query, ...parseForm(raw) };
}

function hostedInvoicePage(account: SimAccount, invoice: Stripe.Invoice, path: string): string {
  const money = (amount: number): string => `${(amount / 100).toFixed(2)} ${invoice.currency.toUpperCase()}`;
  const lines = invoice.lines.data.map((l) => `<tr><td>${escapeHtml(l.description ?? '')}</td><td style="text-align:right">${money(l.amount)}</td></tr>`).join('');
  const payable = invoice.status === 'open' || invoice.status === 'uncollectible';
  return `<!doctype html><meta charset="utf-8"><title>Invoice ${escapeHtml(invoice.number ?? invoice.id)}</title>
<body style="font-family:sans-serif;max-width:36rem;margin:2rem auto">
<p>${escapeHtml(account.name)} (simulated Stripe invoice page)</p>
<h1>Invoice ${escapeHtml(invoice.number ?? invoice.id)}</h1>
<p>Status: <strong id="status">${escapeHtml(invoice.status ?? 'draft')}</strong></p>
<table style="width:100%">${lines}<tr><td><strong>Amount due</strong></td><td style="text-align:right"><strong>${money(invoice.amount_remaining)}</strong></td></tr></table>
${payable ? `<form method="post" action="${escapeHtml(path)}/pay"><button type="submit">Pay ${money(invoice.amount_remaining)} with a new card</button></form>` : '<p>Nothing to pay.</p>'}
</body>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
