import { ApplicationFailure, Context } from '@temporalio/activity';
import { CancelledFailure, TemporalFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import Stripe from 'stripe';
import { queueSyncRereads } from '../db/inbox';
import type { Knex } from '../db/knex';
import {
  upsertCharges,
  upsertCustomers,
  upsertInvoices,
  upsertPaymentIntents,
  upsertPrices,
  upsertProducts,
  upsertRefunds,
  upsertSubscriptions,
  type ReadTime,
} from '../db/mirror';
import { finishSyncRun, lockedRunStatus, recordPage, resourceProgress, startResource } from '../db/sync';
import { findWorkspaceStripe } from '../db/workspaces';
import { estimateResource } from '../domain/sync-progress';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { unorderedReads, type UnorderedRead } from '../workers/mirror-events';
import { syncProgressSignal, type SyncResource } from '../workflows/sync-messages';
import type { StripeClients } from './stripe-client';
import { datedRead, type Dated } from './stripe-dated';
import { PAGE_SIZE, readPricePage, restOfList } from './stripe-lists';
import { couponReads, readDiscountCoupons, type CouponReads } from './discount-coupons';

export { PAGE_SIZE };

export interface SyncActivityDeps {
  db: Knex;
  keyring: Keyring;
  stripe: StripeClients;
  /** For progress signals to the sync workflow; without it progress is only in Postgres. */
  client?: Client | undefined;
  log: Logger;
  /** Least time between two progress signals of one resource. */
  progressEveryMs?: number;
  /** Where the re-reads a sync queues are counted (the worker's registry). */
  metrics?: Metrics | undefined;
}

export interface SyncResourceInput {
  workspaceId: string;
  runId: string;
  resource: SyncResource;
  /** ISO time: only objects created at or after it (null: all). */
  createdGte: string | null;
  /** ISO time the span of this resource is measured from for the estimate. */
  spanStart: string | null;
}

export interface SyncResourceResult {
  objects: number;
  pages: number;
  resumedFrom: string | null;
}

/** What the activity heartbeats: the cursor of the next page and the pages done. */
export interface SyncHeartbeat {
  cursor: string | null;
  pages: number;
}

interface ListParams {
  limit: number;
  starting_after?: string;
  created?: { gte: number };
}

interface Page {
  ids: string[];
  oldestCreated: number | null;
  hasMore: boolean;
  /** Where the next page starts, when not after the page's last object (a list read in two parts: ARCHIVED_PRICES). */
  cursor?: string;
  /**
   * Writes the page's objects, as the state of the list's read on Stripe's clock;
   * returns the re-reads it queued (queueSyncRereads).
   */
  store: (trx: Knex.Transaction) => Promise<string[]>;
}

/** The run a page is read for. */
interface PageRun {
  workspaceId: string;
  runId: string;
  livemode: boolean;
}

/** The prices cursor's prefix for the list of archived prices, read after the active ones (`archived:` then the last id read). */
const ARCHIVED_PRICES = 'archived:';

/** How often a page's fetch heartbeats while it waits (the workflow's heartbeat timeout is 5 s). */
const FETCH_HEARTBEAT_MS = 1000;

const created = (o: { created: number }) => o.created;
const oldest = (xs: { created: number }[]): number | null => (xs.length ? Math.min(...xs.map(created)) : null);

/**
 * One page of a resource's list, and how to store it. `coupons`: the coupons read so
 * far in this run (readDiscountCoupons), kept across its pages.
 */
async function fetchPage(stripe: Stripe, resource: SyncResource, run: PageRun, params: ListParams, ring: Keyring, coupons: CouponReads): Promise<Page> {
  const { workspaceId: ws, livemode } = run;
  // A page's objects are at least as new as its list's read (domain/stripe-clock.ts); what is
  // fetched after it (tiers, the rest of an embedded list) is newer still. `unordered`:
  // for the objects the relay can read again, those that only Stripe can order against
  // the mirror's state of them (unorderedReads), asked before the page is written.
  const page = <T extends { id: string; created: number }>(
    read: Dated<Stripe.ApiList<T>>,
    store: (trx: Knex.Transaction, items: T[], stateAt: ReadTime) => Promise<unknown>,
    unordered?: (trx: Knex.Transaction, items: T[], stateAt: ReadTime) => Promise<UnorderedRead[]>,
  ): Page => ({
    ids: read.value.data.map((o) => o.id),
    oldestCreated: oldest(read.value.data),
    hasMore: read.value.has_more,
    store: async (trx) => {
      const window = { from: read.readAt, until: read.readUntil };
      const reads = unordered ? await unordered(trx, read.value.data, window) : [];
      await store(trx, read.value.data, window);
      return queueSyncRereads(trx, { ...run, reads });
    },
  });
  switch (resource) {
    case 'products':
      return page(await datedRead(() => stripe.products.list(params)), (trx, xs, t) => upsertProducts(trx, ws, xs, t));
    case 'prices': {
      // Stripe lists active prices unless asked for archived ones, which subscriptions
      // still bill on and past invoices name: the active, then the archived, the cursor
      // saying which part a page is of.
      const archived = params.starting_after?.startsWith(ARCHIVED_PRICES);
      const after = archived ? params.starting_after!.slice(ARCHIVED_PRICES.length) : params.starting_after;
      const listed = page(await readPricePage(stripe, { limit: params.limit, ...(params.created ? { created: params.created } : {}), ...(after ? { starting_after: after } : {}), ...(archived ? { active: false } : {}) }), (trx, xs, t) =>
        upsertPrices(trx, ws, xs, t),
      );
      const last = listed.ids.at(-1);
      if (!archived) return listed.hasMore ? listed : { ...listed, hasMore: true, cursor: ARCHIVED_PRICES };
      return { ...listed, cursor: last ? `${ARCHIVED_PRICES}${last}` : params.starting_after! };
    }
    case 'customers':
      // The customer's own discount with its coupon's terms, which a renewal quote applies (db/renewal-notes.ts).
      return page(await datedRead(() => stripe.customers.list({ ...params, expand: ['data.discount.source.coupon'] })), (trx, xs, t) => upsertCustomers(trx, ws, xs, t, ring));
    case 'subscriptions': {
      // The discounts, the subscription's (with their coupons) and its items' own, which a renewal quote applies.
      const read = await datedRead(() => stripe.subscriptions.list({ ...params, status: 'all', expand: ['data.discounts.source.coupon', 'data.items.data.discounts'] }));
      // A subscription carries its first items only; fetch the rest so the mirror is complete.
      for (const s of read.value.data) {
        if (s.items.has_more) s.items = await restOfList(s.items, (after) => stripe.subscriptionItems.list({ subscription: s.id, limit: PAGE_SIZE, starting_after: after, expand: ['data.discounts'] }));
      }
      // Their coupons' restrictions to products lie past the depth a list may expand to.
      await readDiscountCoupons(stripe, read.value.data, coupons);
      return page(read, (trx, xs, t) => upsertSubscriptions(trx, ws, xs, t), (trx, xs, t) => unorderedReads.subscription(trx, ws, xs, t));
    }
    case 'invoices': {
      const read = await datedRead(() => stripe.invoices.list(params));
      for (const inv of read.value.data) {
        const id = inv.id;
        if (id && inv.lines.has_more) inv.lines = await restOfList(inv.lines, (after) => stripe.invoices.listLineItems(id, { limit: PAGE_SIZE, starting_after: after }));
      }
      return page(read, (trx, xs, t) => upsertInvoices(trx, ws, xs, t), (trx, xs, t) => unorderedReads.invoice(trx, ws, xs, t));
    }
    case 'charges':
      return page(
        await datedRead(() => stripe.charges.list(params)),
        (trx, xs, t) => upsertCharges(trx, ws, xs, t),
        (trx, xs, t) => unorderedReads.charge(trx, ws, xs, t),
      );
    case 'refunds':
      return page(
        await datedRead(() => stripe.refunds.list(params)),
        (trx, xs, t) => upsertRefunds(trx, ws, xs, t, livemode),
        (trx, xs, t) => unorderedReads.refund(trx, ws, xs, livemode, t),
      );
    case 'payment_intents':
      return page(await datedRead(() => stripe.paymentIntents.list(params)), (trx, xs, t) => upsertPaymentIntents(trx, ws, xs, t));
  }
}

/** Stripe errors that retrying will not fix: the key is wrong, revoked or lacks a permission. */
function permanent(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripePermissionError || err instanceof Stripe.errors.StripeInvalidRequestError;
}

export function createSyncActivities(deps: SyncActivityDeps) {
  const progressEveryMs = deps.progressEveryMs ?? 1000;

  /**
   * Copies one resource of a workspace into the mirror, page by page. Each page is
   * upserted in one transaction with its cursor, and the cursor is heartbeated, so
   * a worker killed mid-sync resumes from the page after the last one stored: at
   * most the page in flight is fetched twice.
   */
  async function syncResource(input: SyncResourceInput): Promise<SyncResourceResult> {
    const ctx = Context.current();
    const log = deps.log.child({ workspaceId: input.workspaceId, runId: input.runId, resource: input.resource });
    const access = await findWorkspaceStripe(deps.db, deps.keyring, input.workspaceId);
    if (!access) throw ApplicationFailure.nonRetryable(`workspace ${input.workspaceId} does not exist or has no Stripe key`, 'WorkspaceNotFound');
    const stripe = deps.stripe.forWorkspace({
      workspaceId: access.workspaceId,
      apiKey: access.apiKey,
      stripeAccount: access.stripeAccountId,
      livemode: access.livemode,
      rateLimitRps: access.settings.stripeRateLimitRps,
    });

    await startResource(deps.db, input.runId, input.resource);
    // The committed cursor is the truth (it moves with the rows); the heartbeat is
    // what Temporal shows and hands to the next attempt, and agrees with it.
    const stored = await resourceProgress(deps.db, input.runId, input.resource);
    const beat = ctx.info.heartbeatDetails as SyncHeartbeat | undefined;
    let cursor = stored?.cursor ?? beat?.cursor ?? null;
    let pages = stored?.pages ?? 0;
    let objects = stored?.objects ?? 0;
    const resumedFrom = pages > 0 ? cursor : null;
    if (resumedFrom) log.info({ cursor, pages }, 'resuming sync from the last stored page');
    if (stored?.done) return { objects, pages, resumedFrom };

    const createdGte = input.createdGte ? Math.floor(new Date(input.createdGte).getTime() / 1000) : undefined;
    const startedAt = stored?.startedAt ?? new Date();
    const spanStart = input.spanStart ? new Date(input.spanStart) : null;
    const workflowId = ctx.info.workflowExecution?.workflowId;
    let lastSignal = 0;
    let oldestCreated: Date | null = stored?.oldestCreated ?? null;
    const coupons = couponReads();
    let couponsRefusedSaid = false;

    const signal = async (done: boolean) => {
      if (!deps.client || !workflowId || (!done && Date.now() - lastSignal < progressEveryMs)) return;
      lastSignal = Date.now();
      const now = new Date();
      const e = estimateResource({ resource: input.resource, objects, pages, done, oldestCreated, startedAt }, now, spanStart);
      try {
        await deps.client.workflow
          .getHandle(workflowId)
          .signal(syncProgressSignal, { resource: input.resource, objects, pages, done, fraction: e.fraction, etaSeconds: e.etaSeconds, at: now.toISOString() });
      } catch (err) {
        // Progress is also in Postgres; a lost signal only delays the query's view.
        log.warn({ err: (err as Error).message }, 'progress signal failed');
      }
    };

    for (;;) {
      ctx.heartbeat({ cursor, pages } satisfies SyncHeartbeat);
      const params: ListParams = { limit: PAGE_SIZE, ...(cursor ? { starting_after: cursor } : {}), ...(createdGte !== undefined ? { created: { gte: createdGte } } : {}) };
      const fetchStarted = performance.now();
      let page: Page;
      // A page's fetch may wait out Stripe's retries and the rate limiter far longer than
      // the heartbeat timeout; that wait is work, not a dead worker, so it beats on. (Timed
      // out, the attempt would be retried beside itself, both reading and writing the same
      // pages, and Temporal would report a heartbeat timeout instead of Stripe's answer.)
      const beating = setInterval(() => ctx.heartbeat({ cursor, pages } satisfies SyncHeartbeat), FETCH_HEARTBEAT_MS);
      // Cancelled (a sibling refused, the run cancelled or its workflow gone), the read
      // stops as soon as the activity hears of it rather than when Stripe, its retries or
      // the rate limiter let it go. The listener is this page's, removed after it.
      let stopListening = () => {};
      const cancelled = new Promise<never>((_, reject) => {
        const signal = ctx.cancellationSignal;
        const stop = () => reject(signal.reason instanceof Error ? signal.reason : new CancelledFailure('the sync read was cancelled'));
        if (signal.aborted) stop();
        signal.addEventListener('abort', stop, { once: true });
        stopListening = () => signal.removeEventListener('abort', stop);
      });
      cancelled.catch(() => undefined);
      try {
        const fetching = fetchPage(stripe, input.resource, { workspaceId: input.workspaceId, runId: input.runId, livemode: access.livemode }, params, deps.keyring, coupons);
        // Abandoned when the activity is cancelled, it may still fail later: nobody waits for that answer.
        fetching.catch(() => undefined);
        page = await Promise.race([fetching, cancelled]);
      } catch (err) {
        if (permanent(err)) throw ApplicationFailure.nonRetryable(`Stripe refused the ${input.resource} list: ${(err as Error).message}`, 'StripeRefused');
        // Retried as before (the type Temporal would give it: the error's class), but naming the list: Temporal shows the last
        // failure of each read it retries (the Stripe page's warnings), and Stripe's own
        // message does not say which list it was.
        if (err instanceof Error && !(err instanceof TemporalFailure)) throw ApplicationFailure.create({ message: `reading ${input.resource}: ${err.message}`, type: err.constructor.name || err.name, cause: err });
        throw err;
      } finally {
        clearInterval(beating);
        stopListening();
      }
      const done = !page.hasMore || (page.ids.length === 0 && page.cursor === undefined);
      const nextCursor = page.cursor ?? (page.ids.length ? page.ids[page.ids.length - 1]! : cursor);
      const pageOldest = page.oldestCreated === null ? null : new Date(page.oldestCreated * 1000);
      // A page read as the cancellation came is not stored for a run that has ended.
      ctx.cancellationSignal.throwIfAborted();
      const storeStarted = performance.now();
      let rereads: string[] = [];
      let runStatus: string | undefined;
      await deps.db.transaction(async (trx) => {
        // The activity hears of a cancellation only at a heartbeat that reaches Temporal
        // (seconds apart): a run closed meanwhile (failed, cancelled) takes no more pages.
        runStatus = await lockedRunStatus(trx, input.runId);
        if (runStatus !== 'running') return;
        rereads = await page.store(trx);
        await recordPage(trx, input.runId, input.resource, { objects: page.ids.length, cursor: nextCursor, oldestCreated: pageOldest, done });
      });
      if (runStatus !== 'running') {
        throw ApplicationFailure.nonRetryable(`sync run ${input.runId} is ${runStatus ?? 'gone'}: its ${input.resource} page was not stored`, 'SyncRunEnded');
      }
      if (coupons.refused && !couponsRefusedSaid) {
        couponsRefusedSaid = true;
        log.warn("the Stripe key may not read coupons (grant Coupons: Read): discounts' restrictions to products and items' own discount terms stay unknown, so renewals with such a discount are quoted before discounts");
      }
      if (rereads.length > 0) {
        deps.metrics?.syncRereads.inc({ resource: input.resource }, rereads.length);
        log.info({ page: pages + 1, rereads }, 'queued re-reads of objects the page cannot be ordered against');
      }
      log.debug({ page: pages + 1, objects: page.ids.length, fetchMs: Math.round(storeStarted - fetchStarted), storeMs: Math.round(performance.now() - storeStarted) }, 'page stored');
      cursor = nextCursor;
      pages++;
      objects += page.ids.length;
      if (pageOldest) oldestCreated = pageOldest;
      ctx.heartbeat({ cursor, pages } satisfies SyncHeartbeat);
      await signal(done);
      if (done) break;
    }
    log.info({ objects, pages }, 'resource synced');
    return { objects, pages, resumedFrom };
  }

  async function completeSyncRun(input: { runId: string; error?: string }): Promise<void> {
    await finishSyncRun(deps.db, input.runId, input.error === undefined ? { status: 'completed' } : { status: 'failed', error: input.error });
  }

  return { syncResource, completeSyncRun };
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
