import type { ServerResponse } from 'node:http';
import express, { Router, type Request } from 'express';
import Stripe from 'stripe';
import { z } from 'zod';
import type { Knex } from '../db/knex';
import { insertInboxEvents, type InboxEventToStore } from '../db/inbox';
import { findWebhookSecret } from '../db/workspaces';
import { eventSubject, stripeEventEnvelope, thinEventProblem } from '../domain/stripe-events';
import type { Keyring } from '../platform/crypto';
import { createBatchQueue } from '../platform/batcher';
import type { Metrics } from '../platform/metrics';
import { HttpError, parseOr400 } from './errors';
import { webhookAdmission, webhookRateLimit, type WebhookAdmission } from './hardening';

export interface WebhookDeps {
  db: Knex;
  keyring: Keyring;
  metrics: Metrics;
  maxBytes: number;
  /** Stripe's default tolerance for the signature timestamp. */
  toleranceSeconds?: number;
  /** Deliveries accepted per workspace per minute (0 or unset: no limit); past it, 429. */
  requestsPerMinute?: number;
}

/**
 * Webhook secrets by workspace, kept for a short while: ingress would otherwise
 * read and decrypt the secret on every event. A secret replaced meanwhile (PUT
 * .../webhook-secret, in any API process) counts from the first delivery it signs:
 * `fresher` reads it again when a signature fails, at most once a second per
 * workspace, so forged requests cannot each cost a database read. For the same reason
 * a workspace found without a secret (none such, or none set yet) is remembered for
 * `reloadEveryMs` too, apart from the secrets so that a flood of made-up ids cannot push
 * real ones out; a secret set since then counts a second later at most. Requests that
 * come while a workspace's secret is being read wait for that one read, and of two
 * reads of one workspace the answer of the later started is kept, whichever ends last.
 */
export function secretCache(load: (workspaceId: string) => Promise<string | undefined>, ttlMs = 30_000, maxEntries = 10_000, reloadEveryMs = 1_000) {
  /** Each kept secret with when it was read. */
  const entries = new Map<string, { secret: string; loaded: number }>();
  /** When each workspace was last read without a secret. */
  const missing = new Map<string, number>();
  /** When a failed signature last made each workspace's secret be read again. */
  const reloaded = new Map<string, number>();
  /**
   * Reads under way by workspace: how many; the newest one's number and answer, which
   * requests join while it is under way (null once it has ended: none joins a finished
   * or failed read); and the number of the latest read that kept its answer (reads are
   * numbered as they start). Kept until the last of them ends, so a slow read can tell
   * that a later one kept a newer answer meanwhile, whatever the maps above let go.
   */
  const underWay = new Map<string, { count: number; newest: number; answer: Promise<string | undefined> | null; kept: number }>();
  let reads = 0;
  /** Keeps `value`, letting the longest-kept key go when full (a write counts as new). */
  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key);
    if (map.size >= maxEntries) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(key, value);
  };
  const readNow = async (workspaceId: string, readNo: number) => {
    const secret = await load(workspaceId);
    const entry = underWay.get(workspaceId);
    // A read started before one that has kept its answer may be older news. One that
    // failed keeps nothing, so it holds back no earlier read.
    if (entry) {
      if (readNo < entry.kept) return secret;
      entry.kept = readNo;
    }
    if (secret === undefined) {
      entries.delete(workspaceId);
      remember(missing, workspaceId, Date.now());
    } else {
      missing.delete(workspaceId);
      remember(entries, workspaceId, { secret, loaded: Date.now() });
    }
    return secret;
  };
  /** Joins the read under way, or starts one; `fresh` starts one anyway (one under way may have begun before the secret was replaced). */
  const read = (workspaceId: string, fresh = false): Promise<string | undefined> => {
    const current = underWay.get(workspaceId);
    if (current?.answer && !fresh) return current.answer;
    const entry = current ?? { count: 0, newest: 0, answer: null, kept: 0 };
    const readNo = ++reads;
    const answer = readNow(workspaceId, readNo).finally(() => {
      if (entry.newest === readNo) entry.answer = null;
      if (--entry.count === 0) underWay.delete(workspaceId);
    });
    entry.count++;
    entry.newest = readNo;
    entry.answer = answer;
    underWay.set(workspaceId, entry);
    return answer;
  };
  return {
    async get(workspaceId: string): Promise<string | undefined> {
      const hit = entries.get(workspaceId);
      if (hit && Date.now() - hit.loaded < ttlMs) return hit.secret;
      const missed = missing.get(workspaceId);
      if (missed !== undefined && Date.now() - missed < reloadEveryMs) return undefined;
      return read(workspaceId);
    },
    /**
     * The stored secret if it is no longer `stale`, else undefined. Read again unless
     * a failure did so within the last second; then the answer of a read still under
     * way (a delivery signed by a new secret, right behind the one that began reading
     * it, must not be refused on the old one), else the kept one.
     */
    async fresher(workspaceId: string, stale: string): Promise<string | undefined> {
      const last = reloaded.get(workspaceId);
      let secret: string | undefined;
      if (last !== undefined && Date.now() - last < reloadEveryMs) {
        const kept = () => entries.get(workspaceId)?.secret;
        const pending = underWay.get(workspaceId)?.answer;
        // Should that read fail, the kept secret answers, as with none under way.
        secret = pending ? await pending.catch(kept) : kept();
      } else {
        remember(reloaded, workspaceId, Date.now());
        secret = await read(workspaceId, true);
      }
      return secret === stale ? undefined : secret;
    },
  };
}

/** Postgres unreachable, restarting or shutting down, or no pool connection in time. */
function isStorageOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'KnexTimeoutError' ||
    ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03', '08000', '08003', '08006'].includes(String(code)) ||
    /Connection terminated/.test(err.message)
  );
}

/**
 * How many inbox inserts the ingress runs at once. Events that arrive while these are
 * under way go together in the next insert: one statement, commit and notification
 * for all of them, and no wait for a pool connection each. Under a burst (or while the
 * machine is busy) that keeps Postgres's work per event low exactly when it counts; at
 * a trickle every event still goes at once.
 */
const INBOX_INSERTS_AT_ONCE = 2;

/**
 * The most events in one insert. Each of its customers takes a lock until the insert
 * commits (db/inbox.ts), from a lock table Postgres shares among all sessions (64 per
 * connection by default), and the statement carries every payload: a burst of
 * thousands waiting goes in several inserts, never one that could fill either.
 */
const INBOX_BATCH_MAX = 200;

/**
 * Stores the events of one batch. Should Postgres refuse the batch for something other
 * than an outage (one event it cannot take), each event is tried on its own, so only
 * that one fails and its batchmates are stored as if they had come alone.
 */
async function storeBatch(db: Knex, batch: InboxEventToStore[]): Promise<PromiseSettledResult<boolean>[]> {
  try {
    return (await insertInboxEvents(db, batch)).map((stored) => ({ status: 'fulfilled', value: stored }));
  } catch (err) {
    if (batch.length === 1 || isStorageOutage(err)) throw err;
    return Promise.allSettled(batch.map(async (one) => (await insertInboxEvents(db, [one]))[0]!));
  }
}

const signatureHelper = Stripe.webhooks.signature;
if (!signatureHelper) throw new Error('the stripe package has no webhook signature helper');
/**
 * Every escape in JSON text, read left to right, so `\\u0000` (an escaped backslash,
 * then the letters u0000) is not taken for a NUL. One pass: its time grows with the
 * text's length alone, whatever runs of backslashes it holds.
 */
const ESCAPES = /\\([\s\S])(?:(?<=u)0000)?/g;

/**
 * The event's text with every `\u0000` escape made U+FFFD (the replacement character).
 * No Postgres text or jsonb value (the mirror's) can hold a NUL, and refusing the event
 * would lose it: Stripe retries a 400 for three days, then drops it. So a correctly
 * signed event is stored with that one change, and the rest of it as sent.
 */
export function withoutNulEscapes(text: string): string {
  if (!text.includes('\\u0000')) return text;
  return text.replace(ESCAPES, (escape) => (escape === '\\u0000' ? '\\ufffd' : escape));
}

const verifyHeader = signatureHelper.verifyHeader.bind(signatureHelper);

/**
 * Why the Stripe-Signature header does not hold for the raw body under `secret` (HMAC
 * or timestamp tolerance), in Stripe's words; undefined when it holds. Stripe's check
 * alone: constructEvent would parse the body a second time.
 */
function signatureProblem(body: Buffer, header: string, secret: string, toleranceSeconds: number): string | undefined {
  try {
    verifyHeader(body, header, secret, toleranceSeconds);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Express's weak ETag of a body (the app's 'etag fn' setting). */
export type EtagOf = (body: string, encoding: BufferEncoding) => string | undefined;

/** A JSON answer's body and headers, byte for byte and header for header what Express's res.json sends. */
export interface JsonAnswer {
  body: string;
  headers: [string, string][];
}

export function jsonAnswer(value: unknown, etagOf: EtagOf | undefined): JsonAnswer {
  const body = JSON.stringify(value);
  const etag = etagOf?.(body, 'utf8');
  return {
    body,
    headers: [['Content-Type', 'application/json; charset=utf-8'], ['Content-Length', String(Buffer.byteLength(body))], ...(etag ? [['ETag', etag] as [string, string]] : [])],
  };
}

export function writeAnswer(res: ServerResponse, status: number, answer: JsonAnswer): void {
  res.statusCode = status;
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  res.end(answer.body);
}

const params = z.object({ workspaceId: z.string().regex(/^ws_[A-Za-z0-9_-]{1,64}$/, 'must be a workspace id (ws_...)') });

/** One delivery as it reached the API: the path's workspace id, the signature header and the raw body. */
export interface WebhookDelivery {
  workspaceId: string;
  signature: string | undefined;
  body: unknown;
}

/**
 * Stripe webhook ingress, whatever serves its HTTP: only verification and one insert
 * happen on the request path; the relay does the rest, so Stripe gets its 2xx within
 * milliseconds.
 */
export interface WebhookIngress {
  /** Its workspace's limit, checked before a delivery's body is read (receive counts the signed ones); undefined when there is none. */
  admit: WebhookAdmission | undefined;
  /** The largest body accepted, in bytes (413 beyond). */
  maxBytes: number;
  /** Verifies and stores one delivery and gives its 200 answer, or rejects with an HttpError saying what is wrong. */
  receive(delivery: WebhookDelivery): Promise<JsonAnswer>;
}

export function webhookIngress(deps: WebhookDeps & { etagOf: EtagOf | undefined }): WebhookIngress {
  const secrets = secretCache((id) => findWebhookSecret(deps.db, deps.keyring, id));
  // The two answers to an accepted event, worked out once each: res.json's
  // serialization, content-type handling and SHA-1 ETag cost every webhook about 50 µs.
  const storedAnswer = jsonAnswer({ received: true, duplicate: false }, deps.etagOf);
  const duplicateAnswer = jsonAnswer({ received: true, duplicate: true }, deps.etagOf);
  const store = createBatchQueue((batch: InboxEventToStore[]) => {
    deps.metrics.webhookEventsWaiting.dec(batch.length);
    return storeBatch(deps.db, batch);
  }, INBOX_INSERTS_AT_ONCE, INBOX_BATCH_MAX);
  const admit = deps.requestsPerMinute ? webhookAdmission(deps.requestsPerMinute) : undefined;
  return {
    admit,
    maxBytes: deps.maxBytes,
    async receive(delivery) {
      const stopTimer = deps.metrics.webhookAckSeconds.startTimer();
      try {
        const { workspaceId } = parseOr400(params, { workspaceId: delivery.workspaceId }, 'path');
        const secret = await secrets.get(workspaceId);
        if (secret === undefined) throw new HttpError(404, `unknown workspace ${workspaceId}`);

        const { signature, body } = delivery;
        if (!signature) throw new HttpError(400, 'missing Stripe-Signature header');
        if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'empty request body');
        const tolerance = deps.toleranceSeconds ?? 300;
        let problem = signatureProblem(body, signature, secret, tolerance);
        if (problem !== undefined) {
          // Perhaps signed with a secret replaced since this process cached its own.
          const replaced = await secrets.fresher(workspaceId, secret);
          if (replaced !== undefined) problem = signatureProblem(body, signature, replaced, tolerance);
          if (problem !== undefined) throw new HttpError(400, `signature verification failed: ${problem}`);
        }
        admit?.count(workspaceId);
        // Parsed only once signed: a forged body (which counts against no limit) costs
        // its HMAC, never a parse. NUL escapes are rewritten first (rarely any).
        const text = withoutNulEscapes(body.toString('utf8'));
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new HttpError(400, 'request body is not JSON');
        }
        const thin = thinEventProblem(json);
        if (thin !== undefined) throw new HttpError(400, thin);
        const event = parseOr400(stripeEventEnvelope, json, 'Stripe event');
        const { customerId, objectId } = eventSubject(event);
        deps.metrics.webhookEventsWaiting.inc();
        const stored = await store({
          event: {
            workspaceId,
            eventId: event.id,
            type: event.type,
            customerId,
            objectId,
            stripeCreated: new Date(event.created * 1000),
            livemode: event.livemode,
            payload: json,
          },
          // Stored as sent (but for NUL escapes): the json column keeps the verified text itself.
          payloadText: text,
        });
        deps.metrics.webhooksReceived.inc({ outcome: stored ? 'stored' : 'duplicate' });
        return stored ? storedAnswer : duplicateAnswer;
      } catch (caught) {
        const err = isStorageOutage(caught) ? new HttpError(503, 'the event store is unavailable; the event was not stored (Stripe retries it)') : caught;
        deps.metrics.webhooksReceived.inc({ outcome: err instanceof HttpError ? `rejected_${err.status}` : 'error' });
        throw err;
      } finally {
        stopTimer();
      }
    },
  };
}

/**
 * The webhook route in Express, for the deliveries the front door (api/webhook-front-door.ts)
 * leaves to it: a trailing slash, other letter case, an encoded id, a compressed body.
 * Its rate limit is checked before the body is read; on the route itself, so no
 * middleware mounted by path has to match every request.
 */
export function webhookRouter(ingress: WebhookIngress): Router {
  const router = Router();
  const limit = ingress.admit ? [webhookRateLimit(ingress.admit)] : [];
  router.post(
    '/webhooks/stripe/:workspaceId',
    ...limit,
    // The raw bytes are needed: the signature covers the body exactly as sent.
    express.raw({ type: () => true, limit: ingress.maxBytes }),
    async (req: Request<{ workspaceId: string }>, res) => {
      writeAnswer(res, 200, await ingress.receive({ workspaceId: req.params.workspaceId, signature: req.get('stripe-signature'), body: req.body }));
    },
  );
  return router;
}
