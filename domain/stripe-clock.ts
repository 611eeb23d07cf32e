/**
 * Dating what is read from Stripe on Stripe's clock.
 *
 * The mirror keeps, of two states of one object, the one from the later time, and an
 * event's state is dated by Stripe's `created`. A state read from the API must then be
 * dated on the same clock: dated by ours, a clock running ahead of Stripe's would date
 * the read after events that came later, and those events would be dropped as older
 * news until the object changed again (a subscription's end, say, never applied).
 *
 * Each Stripe answer carries its own time in the HTTP `Date` header (whole seconds, as
 * `created` is). The server answered no earlier than that second began, and it read the
 * state after the request reached it, which was at most the round trip before the
 * answer arrived. So the read happened no earlier than `Date` minus the round trip as
 * our clock measures it (a length, which needs no agreement between the clocks). That
 * lower bound is the date: a read dated a little early is at worst written over by an
 * event it already held (which the next event corrects), while one dated late loses
 * events for good.
 */

export interface StripeRead {
  /** Our clock (ms) just before the request was made. */
  askedAt: number;
  /** From the request to its answer (ms), timed by a monotonic clock: a step of ours must not shorten it. */
  roundTripMs: number;
  /** The answer's `Date` header, if it had one. */
  serverDate: string | undefined;
}

/**
 * When the state a request read is from, on Stripe's clock: no earlier than `from`
 * (see above, the date the mirror gives the read) and before `until`, the end of the
 * second the answer's `Date` names (the server read the state before it answered).
 * An event from a second that begins before `until` may be older or newer than the
 * read: the mirror asks Stripe rather than guess (domain/mirror-compare.ts). Without a
 * readable `Date` header, our own clock is all there is: from the asking to a second
 * after the answer.
 */
export function readWindow(read: StripeRead): { from: Date; until: Date } {
  const roundTrip = Math.max(0, read.roundTripMs);
  const server = read.serverDate === undefined ? Number.NaN : Date.parse(read.serverDate);
  if (Number.isNaN(server)) return { from: new Date(read.askedAt), until: new Date(read.askedAt + roundTrip + 1000) };
  return { from: new Date(server - roundTrip), until: new Date(server + 1000) };
}
