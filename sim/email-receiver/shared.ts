import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What the receiver's peers (SendGrid's, SES's) share: the failures and holds a test
 * asks for, which apply to either API, the senders the account has verified, and the
 * waiters woken when any message is recorded.
 */
export interface ReceiverState {
  failures: { count: number; status: number };
  holdMs: number;
  /** Lower-cased from-addresses a provider accepts; null accepts any. */
  verified: Set<string> | null;
  waiters: Set<() => void>;
  /** Answers being held (holdResponses), destroyed on close. */
  held: Set<ServerResponse>;
}

export const receiverState = (): ReceiverState => ({ failures: { count: 0, status: 500 }, holdMs: 0, verified: null, waiters: new Set(), held: new Set() });

export function reply(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** The request's body, refused past `limitBytes`. */
export const readBody = (req: IncomingMessage, limitBytes: number) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limitBytes) reject(new Error('too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/** The status the next request must fail with (failNext), if any. */
export function takeFailure(state: ReceiverState): number | null {
  if (state.failures.count <= 0) return null;
  state.failures.count--;
  return state.failures.status;
}

/** After a message is recorded: wakes the waiters, then holds the answer if told to; false when the connection went meanwhile. */
export async function recorded(state: ReceiverState, res: ServerResponse): Promise<boolean> {
  for (const wake of state.waiters) wake();
  if (state.holdMs <= 0) return true;
  state.held.add(res);
  await new Promise((r) => setTimeout(r, state.holdMs));
  state.held.delete(res);
  return !res.destroyed;
}

/** Resolves with `list` once it holds `n` entries. */
export async function waitFor<T>(state: ReceiverState, list: T[], n: number, timeoutMs: number): Promise<T[]> {
  if (list.length >= n) return list;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      state.waiters.delete(check);
      reject(new Error(`expected ${n} messages within ${timeoutMs} ms; got ${list.length}`));
    }, timeoutMs);
    const check = () => {
      if (list.length < n) return;
      clearTimeout(timer);
      state.waiters.delete(check);
      resolve();
    };
    state.waiters.add(check);
  });
  return list;
}
