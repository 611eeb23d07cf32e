import { markAnalyticsStale, recomputeWorkspace } from '../activities/analytics';
import Stripe from 'stripe';
import type { StripeClients } from '../activities/stripe-client';
import { datedRead } from '../activities/stripe-dated';
import { PAGE_SIZE, readPricePage } from '../activities/stripe-lists';
import { StripeKeyMissingError, workspaceStripeClients } from '../activities/stripe-reader';
import { analyticsStale, tryCatchUpLock, workspacesWithStaleAnalytics } from '../db/analytics';
import type { Db } from '../db/knex';
import { unknownProductIds, workspacesWithUnknownProducts } from '../db/unknown-products';
import { upsertPrices, upsertProducts } from '../db/mirror';
import { settlePrice, stalePriceIds, workspacesWithStalePriceTerms } from '../db/price-terms';
import { HOUR_MS } from '../domain/durations';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import { runPeriodically } from '../platform/periodic';

export interface CatchUpDeps {
  db: Db;
  keyring: Keyring;
  /** The process's shared clients: the reads take tokens from each workspace's rate limiter. */
  stripe: StripeClients;
  log: Logger;
}

/** A background read waits its turn behind the plays' and the sync's requests this long at most. */
const MAX_QUEUE_MS = 60_000;

/** What a catch-up step did: the workspaces it read for, the objects read, the workspaces it could not read (tried again at the next run). */
interface StepDone {
  workspaces: number;
  read: number;
  failed: number;
}

/**
 * Runs `read` for each workspace, one worker at a time per workspace and step: another
 * worker reading a workspace is left to it (each would ask Stripe the same). A
 * workspace without a Stripe key (fed by webhooks alone) cannot be read and waits for
 * one, quietly; any other failure is logged and tried again at the next run.
 */
async function readPerWorkspace(
  deps: CatchUpDeps,
  step: 'prices' | 'products',
  workspaceIds: readonly string[],
  read: (workspaceId: string, stripe: Stripe, log: Logger) => Promise<number>,
  stopping: () => boolean,
): Promise<StepDone> {
  const clientFor = workspaceStripeClients(deps.db, deps.keyring, deps.stripe, MAX_QUEUE_MS);
  const done: StepDone = { workspaces: 0, read: 0, failed: 0 };
  for (const workspaceId of workspaceIds) {
    if (stopping()) break;
    const log = deps.log.child({ workspaceId });
    try {
      const count = await deps.db.transaction(async (trx) => ((await tryCatchUpLock(trx, step, workspaceId)) ? read(workspaceId, await clientFor(workspaceId), log) : null));
      if (count === null) continue;
      done.workspaces++;
      done.read += count;
    } catch (err) {
      if (err instanceof StripeKeyMissingError) {
        log.debug(`${step} catch-up: the workspace has no Stripe key to read with; the next run after one is connected reads them`);
        continue;
      }
      done.failed++;
      log.warn({ err: (err as Error).message }, `${step} catch-up: could not read from Stripe; trying again at the next run`);
    }
  }
  return done;
}

/**
 * Reads again from Stripe the prices of every workspace whose mirror holds prices from
 * before it kept all their terms (db/price-terms.ts), or known only from a subscription
 * item that does not carry them (a tiered price's tiers: recordItemPrices in db/mirror.ts), so no play
 * quotes a package price per unit or a tiered one not at all until someone happens to
 * run a full sync (a sync since a date reads only prices created since, and Stripe
 * sends no event when a price is only read). One price list per such workspace, each
 * page written as a sync writes it; once written, a price is no longer stale, so the
 * next run finds nothing to do (a price Stripe no longer has is settled as it is).
 */
export async function refreshStalePriceTerms(deps: CatchUpDeps, stopping: () => boolean = () => false): Promise<{ workspaces: number; prices: number; failed: number }> {
  const done = await readPerWorkspace(deps, 'prices', await workspacesWithStalePriceTerms(deps.db), (ws, stripe, log) => refreshWorkspacePrices(deps, ws, stripe, log), stopping);
  return { workspaces: done.workspaces, prices: done.read, failed: done.failed };
}

/**
 * Reads the products the mirror's prices name but it does not hold: a product created
 * since the last sync, whose price came in a subscription's event. Until then the plan
 * mapping leaves it out, and its customers have no plan. A product Stripe answers 404
 * for (it cannot delete one with prices) is asked again at the next run.
 */
export async function readUnknownProducts(deps: CatchUpDeps, stopping: () => boolean = () => false): Promise<{ workspaces: number; products: number; failed: number }> {
  const done = await readPerWorkspace(
    deps,
    'products',
    await workspacesWithUnknownProducts(deps.db),
    async (workspaceId, stripe, log) => {
      let products = 0;
      for (const id of await unknownProductIds(deps.db, workspaceId)) {
        try {
          const read = await datedRead(() => stripe.products.retrieve(id));
          await upsertProducts(deps.db, workspaceId, [read.value], { from: read.readAt, until: read.readUntil });
          products++;
        } catch (err) {
          if (!isMissing(err)) throw err;
          log.warn({ productId: id }, 'products catch-up: Stripe has no such product; asking again at the next run');
        }
      }
      return products;
    },
    stopping,
  );
  return { workspaces: done.workspaces, products: done.read, failed: done.failed };
}

/** Stripe's answer for an object it does not have. */
const isMissing = (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode === 404;

/**
 * One workspace's prices read again: the active ones by a listing (Stripe lists only
 * active prices unless asked), then each still stale one by its id, archived prices
 * included (grandfathered subscriptions bill on them); one Stripe no longer has (404)
 * is settled as it is. Answers how many prices were read.
 */
async function refreshWorkspacePrices(deps: CatchUpDeps, workspaceId: string, stripe: Stripe, log: Logger): Promise<number> {
  let prices = 0;
  let termsMatter = false;
  const write = async (page: Stripe.Price[], read: { readAt: Date; readUntil: Date }) => {
    await upsertPrices(deps.db, workspaceId, page, { from: read.readAt, until: read.readUntil });
    prices += page.length;
    termsMatter ||= page.some((p) => p.transform_quantity !== null || p.billing_scheme === 'tiered');
  };
  for (let after: string | undefined; ; ) {
    const read = await readPricePage(stripe, { limit: PAGE_SIZE, ...(after ? { starting_after: after } : {}) });
    const page = read.value.data;
    await write(page, read);
    log.info({ prices }, 'price terms refresh: prices read again');
    if (!read.value.has_more || !page.length) break;
    after = page[page.length - 1]!.id;
  }
  for (const id of await stalePriceIds(deps.db, workspaceId)) {
    try {
      const read = await datedRead(() => stripe.prices.retrieve(id, { expand: ['tiers'] }));
      await write([read.value], read);
    } catch (err) {
      if (!isMissing(err)) throw err;
      await settlePrice(deps.db, workspaceId, id);
    }
  }
  log.info({ prices }, 'price terms refresh: the workspace\'s prices are read again');
  // Its MRR was worked out from the prices as they were, by unit: recomputed next
  // (recomputeStaleAnalytics), if a price is sold in packages or tiers at all.
  if (termsMatter) await markAnalyticsStale(deps.db, workspaceId);
  return prices;
}

/**
 * Recomputes the stored analytics of every workspace computed by older rules than this
 * code's (domain/mrr/rules-version.ts), or from prices read again since: one workspace
 * at a time, each in its own transaction (the relay's updates of its customers wait
 * for it, as for a sync's recompute).
 */
export async function recomputeStaleAnalytics(deps: Pick<CatchUpDeps, 'db' | 'log'>, stopping: () => boolean = () => false): Promise<{ workspaces: number; failed: number }> {
  const done = { workspaces: 0, failed: 0 };
  for (const workspaceId of await workspacesWithStaleAnalytics(deps.db)) {
    if (stopping()) break;
    const log = deps.log.child({ workspaceId });
    const startedAt = Date.now();
    try {
      const result = await deps.db.transaction(async (trx) => {
        // Another worker catching up this workspace: left to it, or the relay, whose
        // updates of the workspace's customers wait for a recompute, would wait for each.
        if (!(await tryCatchUpLock(trx, 'analytics', workspaceId))) return 'busy' as const;
        // Caught up meanwhile (by that worker, or a sync's recompute): nothing to do.
        if (!(await analyticsStale(trx, workspaceId))) return 'current' as const;
        return recomputeWorkspace(trx, workspaceId);
      });
      if (typeof result === 'string') continue;
      log.info({ ...result, ms: Date.now() - startedAt }, 'analytics catch-up: recomputed by the current rules');
      done.workspaces++;
    } catch (err) {
      done.failed++;
      log.warn({ err: (err as Error).message }, 'analytics catch-up: could not recompute; trying again at the next run');
    }
  }
  return done;
}

/**
 * What the mirror and the analytics still lack, brought up to date by the worker two
 * minutes after it starts (its relay first) and then hourly, each step one query when
 * nothing is left: prices mirrored before their terms were kept or known only from
 * subscription items, then products known only by their prices' ids, then analytics
 * computed by older rules (or from those prices). Several workers may run it at once:
 * each step is idempotent.
 */
export function startCatchUp(deps: CatchUpDeps & { firstRunAfterMs?: number; everyMs?: number }): { stop(): Promise<void> } {
  return runPeriodically(
    { firstRunAfterMs: deps.firstRunAfterMs ?? 120_000, everyMs: deps.everyMs ?? HOUR_MS, onError: (err) => deps.log.error({ err }, 'catch-up: run failed') },
    async (stopping) => {
      const prices = await refreshStalePriceTerms(deps, stopping);
      if (prices.workspaces || prices.failed) deps.log.info(prices, 'price terms refresh: finished');
      const products = await readUnknownProducts(deps, stopping);
      if (products.workspaces || products.failed) deps.log.info(products, 'products catch-up: finished');
      const analytics = await recomputeStaleAnalytics(deps, stopping);
      if (analytics.workspaces || analytics.failed) deps.log.info(analytics, 'analytics catch-up: finished');
    },
  );
}
