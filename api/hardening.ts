import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import { HttpError } from './errors';

/**
 * HTTP hardening shared by every route: security headers, and rate limits whose
 * refusals go through the one error handler (429 with the usual JSON error body and
 * RateLimit / Retry-After headers).
 */

/** Helmet's defaults: an API serves no pages, so its strict CSP and no-sniff cost nothing. */
export const securityHeaders = (): RequestHandler => helmet();

const refuse = (message: string): Parameters<typeof rateLimit>[0] => ({
  standardHeaders: 'draft-8',
  legacyHeaders: false,
  handler: (_req, _res, next) => next(new HttpError(429, message)),
});

/**
 * Webhook ingestion per workspace (the path's workspace id, since the signature is
 * checked later): a flood aimed at one workspace cannot starve the inbox for the
 * others. Stripe retries a 429 delivery with backoff, so nothing is lost.
 * Mounted at /webhooks/stripe, where req.path is "/<workspaceId>".
 */
export function webhookRateLimit(perMinute: number): RequestHandler {
  return rateLimit({
    ...refuse(`too many webhook deliveries for this workspace (limit ${perMinute} a minute); retry later`),
    windowMs: 60_000,
    limit: perMinute,
    keyGenerator: (req) => `webhook:${req.path.split('/')[1] ?? ''}`,
  });
}

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
