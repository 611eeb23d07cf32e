import { MessageChannel } from 'node:worker_threads';
import type Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { StripeUnavailableError } from '../../activities/stripe-reader';
import type { MirrorRefetch } from '../../workers/mirror-refetch';
import { answerRefetch, fromRelay, refetchThrough, toRelay } from '../../workers/relay-messages';
import { stripeFixture } from '../helpers/stripe';

/**
 * The relay thread's re-fetches cross to the main thread and back over a real
 * MessageChannel, as between the worker's threads: objects arrive whole, Stripe being
 * unreachable stays a StripeUnavailableError, and every message is checked on arrival.
 */
describe('relay thread re-fetches through the main thread', () => {
  const channels: MessageChannel[] = [];
  afterEach(() => {
    for (const c of channels.splice(0)) {
      c.port1.close();
      c.port2.close();
    }
  });

  /** The two ends: the relay thread's MirrorRefetch (port1) and the main thread's `answering` behind port2. */
  function connect(answering: MirrorRefetch, answerTimeoutMs?: number) {
    const channel = new MessageChannel();
    channels.push(channel);
    const relaySide = refetchThrough(channel.port1, answerTimeoutMs);
    channel.port1.on('message', (raw: unknown) => {
      const message = toRelay.parse(raw);
      if (message.kind === 'refetched') relaySide.settle(message);
    });
    channel.port2.on('message', (raw: unknown) => {
      const message = fromRelay.parse(raw);
      if (message.kind === 'refetch') answerRefetch({ postMessage: (m) => channel.port2.postMessage(m) }, answering, message);
    });
    return relaySide.refetch;
  }

  it("brings back each object whole with its read's time, lists with paging functions included, and null for one Stripe does not have", async () => {
    const invoice = stripeFixture('invoice') as unknown as Stripe.Invoice;
    // Stripe's list objects carry paging functions, which cannot be posted to a thread.
    const lines = Object.assign(invoice.lines, { autoPagingEach: () => undefined });
    const [invoiceReadAt, chargeReadAt] = [new Date('2026-11-28T08:00:00.250Z'), new Date('2026-11-28T08:00:01.500Z')];
    const readUntil = (readAt: Date) => new Date(readAt.getTime() + 1300);
    const asked: string[] = [];
    const refetch = connect({
      subscription: (ws, id) => (asked.push(`${ws} subscription ${id}`), Promise.resolve(null)),
      invoice: (ws, id) => (asked.push(`${ws} invoice ${id}`), Promise.resolve({ value: { ...invoice, id, lines }, readAt: invoiceReadAt, readUntil: readUntil(invoiceReadAt) })),
      charge: (ws, id) => (asked.push(`${ws} charge ${id}`), Promise.resolve({ value: stripeFixture('charge') as unknown as Stripe.Charge, readAt: chargeReadAt, readUntil: readUntil(chargeReadAt) })),
    });
    const [inv, sub, charge] = await Promise.all([refetch.invoice('ws_a', 'in_1'), refetch.subscription('ws_a', 'sub_1'), refetch.charge('ws_b', 'ch_1')]);
    expect(inv).toEqual({ value: JSON.parse(JSON.stringify({ ...invoice, id: 'in_1' })) as unknown, readAt: invoiceReadAt, readUntil: readUntil(invoiceReadAt) });
    expect(sub).toBeNull();
    expect(charge).toEqual({ value: stripeFixture('charge'), readAt: chargeReadAt, readUntil: readUntil(chargeReadAt) });
    expect(asked.sort()).toEqual(['ws_a invoice in_1', 'ws_a subscription sub_1', 'ws_b charge ch_1']);
  });

  it('keeps Stripe being unreachable a StripeUnavailableError, and any other failure its message', async () => {
    const refetch = connect({
      subscription: () => Promise.reject(new StripeUnavailableError('Stripe answered 503 for subscription sub_1')),
      invoice: () => Promise.reject(new TypeError('no such key')),
      charge: () => Promise.resolve(null),
    });
    const unavailable = await refetch.subscription('ws_a', 'sub_1').catch((err: unknown) => err);
    expect(unavailable).toBeInstanceOf(StripeUnavailableError);
    expect((unavailable as Error).message).toBe('Stripe answered 503 for subscription sub_1');
    const other = await refetch.invoice('ws_a', 'in_1').catch((err: unknown) => err);
    expect(other).not.toBeInstanceOf(StripeUnavailableError);
    expect(other).toMatchObject({ name: 'TypeError', message: 'no such key' });
  });

  it('gives up on an answer that does not come in time as StripeUnavailableError, and drops the late answer', async () => {
    let answerLate: () => void = () => undefined;
    const refetch = connect(
      {
        subscription: () => new Promise((resolve) => (answerLate = () => resolve(null))),
        invoice: () => Promise.resolve(null),
        charge: () => Promise.resolve(null),
      },
      100,
    );
    const err = await refetch.subscription('ws_a', 'sub_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StripeUnavailableError);
    expect((err as Error).message).toBe('no answer to the re-fetch of subscription sub_1 within 100 ms');
    answerLate();
    // The late answer arrives and is dropped; a new request is answered as usual.
    await expect(refetch.invoice('ws_a', 'in_1')).resolves.toBeNull();
  });

  it('refuses a message that is not one of the protocol, naming the field', () => {
    expect(() => fromRelay.parse({ kind: 'refetch', id: 1, what: 'customer', workspaceId: 'ws_a', objectId: 'cus_1' })).toThrow(/what/);
    expect(() => toRelay.parse({ kind: 'metrics' })).toThrow(/id/);
  });
});
