import { z } from 'zod';

/**
 * Product signals: what a workspace's own product tells Wysera about its customers
 * (usage of a metric, logins, support tickets). Stripe knows what a customer pays;
 * these say whether they use what they pay for, which the plays cite and weigh.
 */

export const SIGNAL_KINDS = ['usage', 'login', 'ticket'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export const TICKET_STATUSES = ['opened', 'solved'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;

/** At most this many signals a request: a day's usage of a few hundred customers. */
export const MAX_SIGNALS_PER_REQUEST = 1000;
/** How far past our clock a signal's time may be: senders' clocks drift a little. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** One signal's usage at most (a day's API calls of a big customer fit many times over). */
export const MAX_QUANTITY = 1_000_000_000;

/** A sender's free text (ids): Postgres text cannot hold NUL, so it is refused here with a 400, not at the insert. */
export const senderText = () =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(255)
    .refine((s) => !s.includes('\u0000'), 'must not contain a NUL character');

const common = (now: Date) => ({
  id: senderText(),
  customerId: z.string().trim().regex(/^cus_\w{1,251}$/, 'must be a Stripe customer id (cus_…)'),
  at: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 time with its offset, e.g. 2026-11-28T09:30:00Z' })
    .transform((s) => new Date(s))
    .refine((d) => d.getTime() <= now.getTime() + FUTURE_TOLERANCE_MS, 'must not be in the future'),
});

/** One signal as the API takes it; `now` bounds its time. */
export function productSignalSchema(now: Date) {
  return z.discriminatedUnion(
    'type',
    [
      z.strictObject({
        type: z.literal('usage'),
        ...common(now),
        metric: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits and _, starting with a letter (e.g. reports_generated)'),
        quantity: z.number().int('must be a whole number').min(0).max(MAX_QUANTITY),
      }),
      z.strictObject({ type: z.literal('login'), ...common(now) }),
      z.strictObject({
        type: z.literal('ticket'),
        ...common(now),
        ticket: senderText(),
        status: z.enum(TICKET_STATUSES),
        priority: z.enum(TICKET_PRIORITIES).optional(),
      }),
    ],
    { error: `must be one of ${SIGNAL_KINDS.join(', ')}` },
  );
}

export type ProductSignal = z.infer<ReturnType<typeof productSignalSchema>>;

/**
 * What a signal says, as one string: two signals under one id are the same signal (a
 * retry) exactly when these are equal. Its time by the instant it names, whatever
 * offset it was written with.
 */
export function whatSignalSays(s: ProductSignal): string {
  const detail = s.type === 'usage' ? [s.metric, s.quantity] : s.type === 'ticket' ? [s.ticket, s.status, s.priority ?? null] : [];
  return JSON.stringify([s.type, s.customerId, s.at.toISOString(), ...detail]);
}

/**
 * A request's body: `{ signals: [...], replace? }`. `replace`: a signal whose id the
 * workspace holds with something else overwrites it (a correction); without it the
 * first one stands. One request cannot give an id two different signals: which would
 * it mean?
 */
export function productSignalsBody(now: Date) {
  return z.strictObject({
    signals: z
      .array(productSignalSchema(now))
      .min(1, 'must hold at least one signal')
      .max(MAX_SIGNALS_PER_REQUEST)
      .superRefine((signals, ctx) => {
        const first = new Map<string, { index: number; said: string }>();
        signals.forEach((s, index) => {
          const said = whatSignalSays(s);
          const earlier = first.get(s.id);
          if (!earlier) first.set(s.id, { index, said });
          else if (earlier.said !== said) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `repeats the id of signals.${earlier.index} with another signal: give each signal its own id` });
        });
      }),
    replace: z.boolean().optional(),
  });
}

/** One NPS answer from the signals API (POST /workspaces/:id/signals/nps). */
export const npsAnswerBody = z.strictObject({
  /** The sender's id for the answer: sent again, the answer is counted once. */
  id: senderText().optional(),
  customerId: senderText(),
  score: z.number().int().min(0).max(10),
  at: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
});
