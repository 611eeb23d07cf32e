import type { MessagePort } from 'node:worker_threads';
import { z } from 'zod';
import { StripeUnavailableError } from '../activities/stripe-reader';
import { MIRRORED_OBJECTS } from '../domain/event-types';
import type { Dated } from '../activities/stripe-dated';
import type { MirrorRefetch } from './mirror-refetch';

/**
 * What the worker's main thread and its relay thread say to each other. The relay
 * runs on an event loop of its own (workers/relay-thread.ts) so that its passes do not
 * wait behind the Temporal SDK's work on the main thread; the main thread keeps what
 * must stay one per process: the metrics endpoint and the Stripe rate limiters (the
 * relay's re-fetches are asked of it).
 */

const REFETCH_KINDS = MIRRORED_OBJECTS satisfies readonly (keyof MirrorRefetch)[];

/** Main thread to relay thread. */
export const toRelay = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('metrics'), id: z.number().int() }),
  z.object({ kind: z.literal('stop') }),
  z.object({
    kind: z.literal('refetched'),
    id: z.number().int(),
    ok: z.boolean(),
    // What Stripe gave (as JSON), and when that state is from (ms on Stripe's clock); null: Stripe has no such object.
    found: z.object({ value: z.unknown(), readAt: z.number(), readUntil: z.number() }).nullable().optional(),
    error: z.object({ name: z.string(), message: z.string() }).optional(),
  }),
]);
export type ToRelay = z.infer<typeof toRelay>;

/** A registry's figures as prom-client's getMetricsAsJSON gives them (its aggregate() takes that shape). */
const metricsJson = z.array(
  z.object({
    name: z.string(),
    help: z.string(),
    // A string at run time ('counter', ...); prom-client's types call it an enum.
    type: z.union([z.string(), z.number()]),
    aggregator: z.string(),
    values: z.array(z.object({ value: z.number(), labels: z.record(z.string(), z.unknown()), metricName: z.string().optional() })),
  }),
);
export type MetricsJson = z.infer<typeof metricsJson>;

/** Relay thread to main thread. */
export const fromRelay = z.discriminatedUnion('kind', [
  // The thread's kernel id (Linux), so the main thread can leave its priority alone.
  z.object({ kind: z.literal('started'), threadId: z.number().int().positive().optional() }),
  z.object({ kind: z.literal('metrics'), id: z.number().int(), metrics: metricsJson }),
  z.object({ kind: z.literal('stopped') }),
  z.object({ kind: z.literal('refetch'), id: z.number().int(), what: z.enum(REFETCH_KINDS), workspaceId: z.string(), objectId: z.string() }),
]);
export type FromRelay = z.infer<typeof fromRelay>;

/**
 * How long the relay thread waits for the main thread's answer to a re-fetch. The main
 * thread always answers (its reads have their own timeouts and retries, minutes at
 * most); this only keeps a pass from waiting forever, holding its customers back, if
 * that ever fails to happen.
 */
export const REFETCH_ANSWER_TIMEOUT_MS = 10 * 60_000;

/**
 * A MirrorRefetch for the relay thread that asks the main thread's (see answerRefetch):
 * every read then takes its tokens from the process's one limiter per workspace.
 * Stripe being unreachable comes back as StripeUnavailableError, as it would in place,
 * and so does no answer within `answerTimeoutMs` (the event is retried later).
 */
export function refetchThrough(
  port: Pick<MessagePort, 'postMessage'>,
  answerTimeoutMs = REFETCH_ANSWER_TIMEOUT_MS,
): { refetch: MirrorRefetch; settle(message: Extract<ToRelay, { kind: 'refetched' }>): void } {
  let nextId = 1;
  const waiting = new Map<number, { resolve: (found: Dated<unknown> | null) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  // The answer is the main thread's JSON of the object asked for (answerRefetch): typed as
  // whichever object the method promises.
  const ask = (what: (typeof REFETCH_KINDS)[number]) => (workspaceId: string, objectId: string) =>
    new Promise<Dated<never> | null>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        // A late answer finds nothing waiting and is dropped (settle).
        waiting.delete(id);
        reject(new StripeUnavailableError(`no answer to the re-fetch of ${what} ${objectId} within ${answerTimeoutMs} ms`));
      }, answerTimeoutMs);
      waiting.set(id, { resolve: resolve as (found: Dated<unknown> | null) => void, reject, timer });
      port.postMessage({ kind: 'refetch', id, what, workspaceId, objectId } satisfies FromRelay);
    });
  return {
    refetch: { subscription: ask('subscription'), invoice: ask('invoice'), charge: ask('charge') },
    settle(message) {
      const call = waiting.get(message.id);
      if (!call) return;
      waiting.delete(message.id);
      clearTimeout(call.timer);
      if (message.ok) call.resolve(message.found ? { value: message.found.value, readAt: new Date(message.found.readAt), readUntil: new Date(message.found.readUntil) } : null);
      else {
        const { name = 'Error', message: text = 'the re-fetch failed' } = message.error ?? {};
        call.reject(name === 'StripeUnavailableError' ? new StripeUnavailableError(text) : Object.assign(new Error(text), { name }));
      }
    },
  };
}

/** Answers the relay thread's re-fetch requests with the main thread's MirrorRefetch. */
export function answerRefetch(port: { postMessage(message: ToRelay): void }, refetch: MirrorRefetch, request: Extract<FromRelay, { kind: 'refetch' }>): void {
  refetch[request.what](request.workspaceId, request.objectId).then(
    // As JSON: Stripe's list objects carry paging functions, which cannot cross threads.
    (found) =>
      port.postMessage({
        kind: 'refetched',
        id: request.id,
        ok: true,
        found: found === null ? null : { value: JSON.parse(JSON.stringify(found.value)) as unknown, readAt: found.readAt.getTime(), readUntil: found.readUntil.getTime() },
      }),
    (err: unknown) => {
      const error = err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
      port.postMessage({ kind: 'refetched', id: request.id, ok: false, error });
    },
  );
}
