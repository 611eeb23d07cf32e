import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import type { Logger } from '../platform/logger';
import { errorAnswer } from './errors';
import { setSecurityHeaders, type SecurityHeaderList } from './hardening';
import { jsonAnswer, writeAnswer, type EtagOf, type WebhookIngress } from './webhooks';

/** Serves a request and says true, or says false and leaves it untouched for the app. */
export type FrontDoor = (req: IncomingMessage, res: ServerResponse) => boolean;

/** `POST /webhooks/stripe/:workspaceId` as Stripe sends it: the id as issued, an optional query. */
const CANONICAL_PATH = /^\/webhooks\/stripe\/([A-Za-z0-9_-]+)(?:\?|$)/;

/**
 * Stripe's deliveries served beside Express rather than through it. Express switches
 * every request's and response's prototype to the app's own (`Object.setPrototypeOf`)
 * and walks its router; for a webhook that was a fifth of the API's CPU in the webhook
 * benchmark, and it made V8 keep much of each request's objects through
 * young-generation collections (15% of what a webhook allocated survived one, 6% here):
 * the API spent half again to twice as long paused for garbage collection.
 *
 * Only the route's canonical form is served here; any other (another method, a
 * trailing slash, other letter case, an encoded id, a compressed body) is left to
 * Express, whose webhook route answers it as before. Both go through the same
 * WebhookIngress, rate limit, security headers and error answers, so an answer does
 * not depend on which one served it.
 */
export function webhookFrontDoor(opts: { ingress: WebhookIngress; securityHeaders: SecurityHeaderList; log: Logger; etagOf: EtagOf | undefined }): FrontDoor {
  const { ingress } = opts;

  const serve = async (req: IncomingMessage, res: ServerResponse, workspaceId: string) => {
    setSecurityHeaders(res, opts.securityHeaders);
    try {
      ingress.admit?.check(workspaceId, res);
      const body = await readBody(req, ingress.maxBytes);
      const signature = req.headers['stripe-signature'];
      writeAnswer(res, 200, await ingress.receive({ workspaceId, signature: typeof signature === 'string' ? signature : undefined, body }));
    } catch (err) {
      const { status, body } = errorAnswer(opts.log, err, { method: 'POST', path: (req.url ?? '').split('?', 1)[0]! });
      writeAnswer(res, status, jsonAnswer(body, opts.etagOf));
    }
  };

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const match = CANONICAL_PATH.exec(req.url ?? '');
    if (!match) return false;
    // Express's body parser decompresses some encodings and refuses the others (415);
    // Stripe sends none, so any encoding but identity is left to it.
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    serve(req, res, match[1]!).catch((err: unknown) => {
      // Only if answering the error failed too: what Express's final handler does then.
      opts.log.error({ err, method: 'POST', path: req.url }, 'webhook answer failed');
      res.destroy();
    });
    return true;
  };
}

/**
 * The raw body, up to `limit` bytes, with raw-body's errors (413 beyond the limit, 400
 * for a length that does not match or an aborted upload). As Express's body parser
 * does, a rejected body is read to its end before the error is answered, so the sender
 * reads the answer rather than a reset connection.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    getRawBody(req, { length: req.headers['content-length'], limit }, (err, body) => {
      if (!err) return resolve(body);
      if (req.complete || req.destroyed) return reject(err);
      const done = () => reject(err);
      req.once('end', done);
      req.once('close', done);
      req.resume();
    });
  });
}
