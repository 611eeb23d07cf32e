import { z } from 'zod';

/**
 * Whether a webhook event belongs to the Stripe account and mode a workspace mirrors.
 *
 * A signature proves only that the event came through the endpoint whose secret the
 * workspace holds. A Connect endpoint sends every connected account's events (each
 * carries `account`), and a test-mode endpoint's secret can be pasted into a live
 * workspace: without this check such events would be written into the workspace's
 * mirror, counted in its MRR and start its plays.
 */

/** What a workspace knows of the account it mirrors. */
export interface MirroredAccount {
  /** The connected account the workspace acts for; null: its key's own account. */
  stripeAccountId: string | null;
  livemode: boolean;
  /** A webhook-only workspace (no key) has not told its account or mode: its events are not checked. */
  hasStripeKey: boolean;
}

/** Where an event comes from, as its envelope says. */
export interface EventOrigin {
  livemode: boolean;
  /** The connected account a Connect endpoint's event is about; null on an account's own endpoint. */
  account: string | null;
}

const envelopeOrigin = z.object({ livemode: z.boolean(), account: z.string().nullish() });

/** The origin in a stored event's payload; null when the payload has none (not a Stripe envelope). */
export function eventOrigin(payload: unknown): EventOrigin | null {
  const parsed = envelopeOrigin.safeParse(payload);
  return parsed.success ? { livemode: parsed.data.livemode, account: parsed.data.account ?? null } : null;
}

const modeName = (livemode: boolean) => (livemode ? 'live' : 'test');

/** How every reason starts: an ignored event's error says whether it was set aside (db/inbox.ts endpointActivity). */
export const SET_ASIDE_PREFIX = 'not applied: ';

/**
 * Why the event is not the workspace's (the error kept with it), or null when it is.
 * An event without `account` comes from an account's own endpoint: for a workspace
 * acting for a connected account that may be the connected account's own endpoint
 * (a Standard account has a dashboard), so only an `account` naming another account
 * tells a foreign event there.
 */
export function foreignEventReason(origin: EventOrigin, workspace: MirroredAccount): string | null {
  if (!workspace.hasStripeKey) return null;
  const { stripeAccountId } = workspace;
  if (origin.account !== null && origin.account !== stripeAccountId) {
    return stripeAccountId === null
      ? `${SET_ASIDE_PREFIX}the event is about the connected account ${origin.account}, and this workspace mirrors its key's own account (a Connect endpoint sends every connected account's events)`
      : `${SET_ASIDE_PREFIX}the event is about the connected account ${origin.account}, and this workspace mirrors ${stripeAccountId}`;
  }
  if (origin.livemode !== workspace.livemode) {
    return `${SET_ASIDE_PREFIX}the event is a ${modeName(origin.livemode)}-mode event, and this workspace mirrors ${modeName(workspace.livemode)}-mode data`;
  }
  return null;
}
