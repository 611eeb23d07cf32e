import { createHash } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import { HttpError } from './errors';

/**
 * HTTP hardening shared by every route: security headers, and rate limits whose
 * refusals go through the one error handler (429 with the usual JSON error body and
 * RateLimit / Retry-After headers).
 */

/**
 * Helmet's defaults. The web UI (api/web.ts) lives within them: one page whose script
 * and stylesheet come from this origin, no inline script, data only through fetch.
 *
 * With default options none of helmet's headers depends on the request, so helmet runs
 * once, on a response of its own, and each request gets the headers it set: helmet's
 * chain of thirteen middlewares cost every Stripe webhook about 20 µs, the list half.
 */
export function securityHeaders(headers = securityHeaderList()): RequestHandler {
  return (_req, res, next) => {
    setSecurityHeaders(res, headers);
    next();
  };
}

/** The headers helmet sets on every answer, recorded once on a probe response. */
export type SecurityHeaderList = readonly [name: string, value: number | string | readonly string[]][];

export function securityHeaderList(): SecurityHeaderList {
  const probe = new HeaderRecorder(new IncomingMessage(new Socket()));
  let finished = false;
  helmet()(probe.req, probe, () => {
    finished = true;
  });
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return probe.recorded;
}

/** Sets the security headers on a response (and no X-Powered-By). */
export function setSecurityHeaders(res: ServerResponse, headers: SecurityHeaderList): void {
  for (const [name, value] of headers) res.setHeader(name, value);
  res.removeHeader('X-Powered-By');
}

/** A response that remembers the headers set on it, names spelled as set (they go on the wire so). */
class HeaderRecorder extends ServerResponse {
  readonly recorded: [name: string, value: number | string | readonly string[]][] = [];
  override setHeader(name: string, value: number | string | readonly string[]): this {
    this.recorded.push([name, value]);
    return super.setHeader(name, value);
  }
}

const refuse = (message: string): Parameters<typeof rateLimit>[0] => ({
  standardHeaders: 'draft-8',
  legacyHeaders: false,
  handler: (_req, _res, next) => next(new HttpError(429, message)),
});

/** A workspace's webhook rate limit, checked before a delivery's body is read and counted once its signature holds. */
export interface WebhookAdmission {
  /**
   * Before the body is read: sets the RateLimit headers on `res` (the count left as if
   * this delivery counts), and past the limit sets Retry-After and throws an HttpError 429.
   */
  check(workspaceId: string, res: ServerResponse): void;
  /** Counts a delivery whose signature held. */
  count(workspaceId: string): void;
}

/** A WebhookAdmission's check as Express middleware, keyed by the route's workspaceId parameter. */
export function webhookRateLimit(admit: WebhookAdmission): RequestHandler<{ workspaceId: string }> {
  return (req, res, next) => {
    try {
      admit.check(req.params.workspaceId, res);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * Webhook ingestion per workspace (the path's workspace id): a flood aimed at one
 * workspace cannot starve the inbox for the others. Stripe retries a 429 delivery with
 * backoff, so nothing is lost. Checked before the body is read; only deliveries whose
 * signature holds count, so requests forged by whoever learns an endpoint's address
 * (answered 400) cannot use up the workspace's limit and have Stripe's own deliveries
 * refused. Deliveries under way together are checked before any of them counts, so the
 * limit can be passed by as many as arrive at once.
 *
 * It counts as express-rate-limit's memory store does (a window of a minute from a
 * workspace's first delivery in it) and answers with the same draft-8 RateLimit
 * headers and 429, but synchronously and with each workspace's partition key hashed
 * once: express-rate-limit's promise chain, debug calls and per-request SHA-256 cost
 * every Stripe webhook about 50 µs of the API's CPU.
 */
export function webhookAdmission(perMinute: number): WebhookAdmission {
  const windowMs = 60_000;
  const name = `"${perMinute}-in-1min"`;
  const message = `too many webhook deliveries for this workspace (limit ${perMinute} a minute); retry later`;
  interface Window {
    hits: number;
    resetAt: number;
    /** RateLimit-Policy for this workspace; its partition key is a hash of the key. */
    policy: string;
  }
  // Windows seen in the last rotation period and the one before; a window untouched for
  // a whole period has expired and is dropped with its map, so unknown workspace ids
  // posted once do not pile up.
  let current = new Map<string, Window>();
  let previous = new Map<string, Window>();
  let rotateAt = 0;
  const windowOf = (workspaceId: string, now: number): Window => {
    const key = `webhook:${workspaceId}`;
    if (now >= rotateAt) {
      previous = current;
      current = new Map();
      rotateAt = now + windowMs;
    }
    let window = current.get(key);
    if (!window) {
      window = previous.get(key);
      previous.delete(key);
      window ??= { hits: 0, resetAt: 0, policy: `${name}; q=${perMinute}; w=${windowMs / 1000}; pk=:${partitionKey(key)}:` };
      current.set(key, window);
    }
    if (window.resetAt <= now) {
      window.hits = 0;
      window.resetAt = now + windowMs;
    }
    return window;
  };
  return {
    check(workspaceId, res) {
      const now = Date.now();
      const window = windowOf(workspaceId, now);
      const resetSeconds = Math.max(0, Math.ceil((window.resetAt - now) / 1000));
      res.setHeader('RateLimit', `${name}; r=${Math.max(perMinute - window.hits - 1, 0)}; t=${resetSeconds}`);
      res.setHeader('RateLimit-Policy', window.policy);
      if (window.hits < perMinute) return;
      res.setHeader('Retry-After', String(resetSeconds));
      throw new HttpError(429, message);
    },
    count(workspaceId) {
      windowOf(workspaceId, Date.now()).hits++;
    },
  };
}

/** The draft-8 partition key of a rate limit key, as express-rate-limit derives it. */
const partitionKey = (key: string) => Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');

/**
 * Failed authentication per client address: only answers of 401 (missing, unknown,
 * revoked or malformed tokens) count, so guessing tokens is slow while working
 * clients never hit it. Past the limit the address gets 429 until the window ends.
 */
export function authFailureLimit(failures: number, windowMs = 15 * 60_000): RequestHandler {
  return rateLimit({
    ...refuse(`too many failed authentication attempts from this address; retry in ${Math.round(windowMs / 60_000)} minutes`),
    windowMs,
    limit: failures,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
  });
}

/**
 * Failed logins (answers of 401), counted per client address and per email, so
 * neither guessing one account's password from many addresses nor many accounts'
 * from one address gets far. Successful logins do not count; past a limit the
 * address or the email gets 429 with Retry-After until its window ends, right
 * password or not. Mounted on POST /auth/login after the JSON body parser.
 */
export function loginRateLimit(limits: { perEmail: number; perAddress: number; windowMs?: number }): RequestHandler[] {
  const windowMs = limits.windowMs ?? 15 * 60_000;
  const minutes = Math.round(windowMs / 60_000);
  const failuresOnly = { windowMs, skipSuccessfulRequests: true, requestWasSuccessful: (_req: unknown, res: { statusCode: number }) => res.statusCode !== 401 };
  const handlers: RequestHandler[] = [];
  if (limits.perAddress > 0) {
    handlers.push(rateLimit({ ...refuse(`too many failed logins from this address; retry in ${minutes} minutes`), ...failuresOnly, limit: limits.perAddress }));
  }
  if (limits.perEmail > 0) {
    const emailOf = (body: unknown) => {
      const email = (body as { email?: unknown } | undefined)?.email;
      return typeof email === 'string' ? email.trim().toLowerCase() : undefined;
    };
    handlers.push(
      rateLimit({
        ...refuse(`too many failed logins for this email; retry in ${minutes} minutes`),
        ...failuresOnly,
        limit: limits.perEmail,
        // A body without an email is refused by validation (400) and needs no count.
        skip: (req) => emailOf(req.body) === undefined,
        keyGenerator: (req) => `login:${emailOf(req.body) ?? ''}`,
      }),
    );
  }
  return handlers;
}

/**
 * Wrong current passwords when a signed-in user changes theirs (answers of 403), per
 * user: a borrowed session cannot be used to guess the password behind it.
 */
export function passwordChangeLimit(failures: number, userOf: (res: Parameters<RequestHandler>[1]) => string, windowMs = 15 * 60_000): RequestHandler {
  return rateLimit({
    ...refuse(`too many wrong current passwords; retry in ${Math.round(windowMs / 60_000)} minutes`),
    windowMs,
    limit: failures,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 403,
    keyGenerator: (_req, res) => `password:${userOf(res)}`,
  });
}

/** Password reset requests per client address (each may send an email): `limit` per `windowMs` (default 15 minutes). */
export function passwordResetLimit(limit: number, windowMs = 15 * 60_000): RequestHandler {
  return rateLimit({ ...refuse(`too many password reset requests from this address; retry in ${Math.round(windowMs / 60_000)} minutes`), windowMs, limit });
}

/**
 * Product signal requests per caller per minute, `callerOf` naming the caller (an API
 * token, or a signed-in user): a runaway sender script cannot flood the signals table,
 * and it uses up its own allowance, not that of the workspace's other senders. Every
 * request counts, a refused one too, so a sender that keeps hammering stays refused
 * until its window ends. Mounted after the workspace guard (unauthenticated floods meet
 * the failed-authentication limit instead) and before the batch is validated or stored,
 * so a refused batch stores nothing.
 */
export function signalsRateLimit(perMinute: number, callerOf: (res: Parameters<RequestHandler>[1]) => string, windowMs = 60_000): RequestHandler {
  const per = windowMs === 60_000 ? 'a minute' : `in ${windowMs / 1000} s`;
  return rateLimit({
    ...refuse(`too many product signal requests from this API token or user (limit ${perMinute} ${per}); retry later`),
    windowMs,
    limit: perMinute,
    keyGenerator: (_req, res) => `signals:${callerOf(res)}`,
  });
}

/**
 * Refuses a request body the API would not read (415): express.json takes only
 * `application/json`, and any other body (a form, plain text) reached the routes as no
 * body at all, so a route whose body is optional acted as if none had been sent.
 * An empty body (`Content-Length: 0`) is no body, whatever its type; a chunked one is
 * judged by its type alone, since telling it empty would mean reading it.
 */
export function jsonBodiesOnly(): RequestHandler {
  return (req, _res, next) => {
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
    if (hasBody && !req.is('application/json')) {
      const type = req.headers['content-type'];
      // The caller's header goes back to it and into the log: a bounded piece of it.
      next(new HttpError(415, `request body must be JSON (Content-Type: application/json), not ${type ? type.slice(0, 100) : 'a body without a Content-Type'}`));
      return;
    }
    next();
  };
}
