import type { StripeClients } from '../activities/stripe-client';
import { PAGE_SIZE, readPricePage } from '../activities/stripe-lists';
import { StripeKeyMissingError, workspaceStripeClients } from '../activities/stripe-reader';
import type { Db } from '../db/knex';
import { upsertPrices } from '../db/mirror';
import { workspacesWithStalePriceTerms } from '../db/price-terms';
import { HOUR_MS } from '../domain/durations';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import { runPeriodically } from '../platform/periodic';

export interface PriceTermsRefreshDeps {
  db: Db;
  keyring: Keyring;
  /** The process's shared clients: the reads take tokens from each workspace's rate limiter. */
  stripe: StripeClients;
  log: Logger;
}

/** A background read waits its turn behind the plays' and the sync's requests this long at most. */
const MAX_QUEUE_MS = 60_000;

/**
 * Reads again from Stripe the prices of every workspace whose mirror holds prices from
 * before it kept all their terms (db/price-terms.ts), so no play quotes a package
 * price per unit until someone happens to run a full sync (a sync since a date reads
 * only prices created since, and Stripe sends no event when a price is only read).
 * One price list per such workspace, each page written as a sync writes it; once
 * written, a price is no longer stale, so the next run finds nothing to do. A
 * workspace without a Stripe key (fed by webhooks alone) cannot be read and stays
 * as it is.
 */
export async function refreshStalePriceTerms(deps: PriceTermsRefreshDeps, stopping: () => boolean = () => false): Promise<{ workspaces: number; prices: number; failed: number }> {
  const clientFor = workspaceStripeClients(deps.db, deps.keyring, deps.stripe, MAX_QUEUE_MS);
  const done = { workspaces: 0, prices: 0, failed: 0 };
  for (const workspaceId of await workspacesWithStalePriceTerms(deps.db)) {
    if (stopping()) break;
    const log = deps.log.child({ workspaceId });
    try {
      const stripe = await clientFor(workspaceId);
      let prices = 0;
      for (let after: string | undefined; ; ) {
        const read = await readPricePage(stripe, { limit: PAGE_SIZE, ...(after ? { starting_after: after } : {}) });
        const page = read.value.data;
        await upsertPrices(deps.db, workspaceId, page, { from: read.readAt, until: read.readUntil });
        prices += page.length;
        log.info({ prices }, 'price terms refresh: prices read again');
        if (!read.value.has_more || !page.length) break;
        after = page[page.length - 1]!.id;
      }
      done.workspaces++;
      done.prices += prices;
    } catch (err) {
      if (err instanceof StripeKeyMissingError) {
        log.info('price terms refresh: the workspace has no Stripe key to read its prices with; a sync after connecting one reads them');
        continue;
      }
      done.failed++;
      log.warn({ err: (err as Error).message }, 'price terms refresh: could not read the prices; trying again at the next run');
    }
  }
  return done;
}

/** Runs the refresh `firstRunAfterMs` after the worker starts (default two minutes, the relay first), then hourly: a run with nothing stale is one query. */
export function startPriceTermsRefresh(deps: PriceTermsRefreshDeps & { firstRunAfterMs?: number; everyMs?: number }): { stop(): Promise<void> } {
  return runPeriodically(
    { firstRunAfterMs: deps.firstRunAfterMs ?? 120_000, everyMs: deps.everyMs ?? HOUR_MS, onError: (err) => deps.log.error({ err }, 'price terms refresh: run failed') },
    async (stopping) => {
      const done = await refreshStalePriceTerms(deps, stopping);
      if (done.workspaces || done.failed) deps.log.info(done, 'price terms refresh: finished');
    },
  );
}
