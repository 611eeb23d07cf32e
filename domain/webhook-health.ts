import { isSubscribedEventType } from './event-types';
import { DAY_MS } from './durations';

/**
 * What an owner needs to know about a workspace's webhook endpoint beyond its failing
 * events: whether Stripe sends anything at all, whether it sends what Wysera needs,
 * and whether it sends another account's events. Read from the inbox (db/inbox.ts
 * endpointActivity); the warnings are worked out here.
 */

/** How long an endpoint may stay silent while subscriptions run: most bill monthly (yearly plans alone may stay quieter). */
export const QUIET_DAYS = 35;

/** Events of one type received in the window, and how many of them were set aside (domain/event-ownership.ts). */
export interface TypeActivity {
  type: string;
  count: number;
  setAside: number;
}

export interface EndpointFacts {
  now: Date;
  /** The latest event the endpoint delivered (any age), null when it never delivered one. */
  lastReceivedAt: Date | null;
  /** The window's events by type (re-reads are Wysera's own and not listed). */
  received: readonly TypeActivity[];
  /** The reason kept with the window's latest event set aside, if any. */
  lastSetAsideReason: string | null;
  /** Subscriptions the mirror holds as running (db/mirror.ts countRunningSubscriptions): Stripe bills them, so events come. */
  runningSubscriptions: number;
}

export type EndpointWarningCode = 'quiet' | 'unused_types' | 'foreign_events';

export interface EndpointWarning {
  code: EndpointWarningCode;
  message: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The endpoint's problems an owner can fix in Stripe's dashboard, most serious first. */
export function endpointWarnings(f: EndpointFacts): EndpointWarning[] {
  const warnings: EndpointWarning[] = [];
  const silentFor = f.lastReceivedAt ? f.now.getTime() - f.lastReceivedAt.getTime() : Infinity;
  if (f.runningSubscriptions > 0 && silentFor > QUIET_DAYS * DAY_MS) {
    // None on record: none ever, or none within the inbox's retention.
    const since = f.lastReceivedAt ? `has arrived since ${f.lastReceivedAt.toISOString()}` : 'is on record';
    warnings.push({
      code: 'quiet',
      message: `No webhook event ${since}, while ${plural(f.runningSubscriptions, 'subscription runs', 'subscriptions run')}: check in Stripe that the endpoint's URL is this workspace's and that it is enabled. Until events arrive, only a sync brings changes.`,
    });
  }
  const setAside = f.received.reduce((n, t) => n + t.setAside, 0);
  if (setAside > 0) {
    warnings.push({
      code: 'foreign_events',
      message: `${plural(setAside, 'event')} of another account or mode arrived and changed nothing (latest: ${f.lastSetAsideReason ?? 'no reason kept'}). Give each account and mode its own endpoint with its own workspace's URL and signing secret; or, if this workspace should mirror them, replace its Stripe key with that account's or mode's and apply them (they are kept).`,
    });
  }
  const unused = f.received.filter((t) => !isSubscribedEventType(t.type));
  if (unused.length > 0) {
    const count = unused.reduce((n, t) => n + t.count, 0);
    const types = unused.map((t) => t.type).sort();
    warnings.push({
      code: 'unused_types',
      message: `${plural(count, 'event')} of ${plural(types.length, 'type')} Wysera does not use arrived (${types.join(', ')}): select only the types Wysera needs in the endpoint's settings to spare both sides the requests.`,
    });
  }
  return warnings;
}
