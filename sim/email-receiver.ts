import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendGridPeer, sgError, type ReceivedMessage } from './email-receiver/sendgrid';
import { sesPeer, type ReceivedSesMessage } from './email-receiver/ses';
import { receiverState, reply, waitFor } from './email-receiver/shared';

export { mailSendSchema, type MailSendBody, type ReceivedMessage } from './email-receiver/sendgrid';
export { sesSendEmailSchema, type ReceivedSesMessage, type SesSendEmailBody } from './email-receiver/ses';

/**
 * A local SendGrid- and SES-compatible receiver, one peer a provider
 * (sim/email-receiver/sendgrid.ts, sim/email-receiver/ses.ts). Every accepted message
 * is recorded. Tests and the demo point the senders at it; it can be told to fail the
 * next requests with 429/5xx or to hold its answers (a provider that accepted a
 * message but whose answer never reached the sender), and to refuse senders as each
 * provider does.
 *
 * Run it alone with `tsx sim/email-receiver.ts [port]`; GET /_receiver/messages
 * lists what arrived.
 */
export interface EmailReceiver {
  url: string;
  port: number;
  /** Messages SendGrid's API accepted, in arrival order. */
  messages: ReceivedMessage[];
  /** Messages SES's SendEmail accepted, in arrival order. */
  sesMessages: ReceivedSesMessage[];
  /** Every POST /v3/mail/send, accepted or not. */
  requests: number;
  /**
   * The next `count` requests, to either API, get `status` (429, 500, 503...) without
   * being recorded. SES names them as it does: 429 TooManyRequestsException, 503
   * ServiceUnavailable, another 5xx InternalFailure.
   */
  failNext(count: number, status: number): void;
  /** Accept and record messages but hold the answers for `ms` (0 answers at once again). */
  holdResponses(ms: number): void;
  /**
   * Refuse messages from any address but these as each provider refuses a from-address
   * the account has not verified: SendGrid's 403 (not a verified Sender Identity), SES's
   * 400 MessageRejected ("Email address is not verified"); null accepts any sender again.
   */
  verifiedSenders(emails: readonly string[] | null): void;
  /**
   * SES: check each request's SigV4 signature with the secret of its access key id
   * (`{ [accessKeyId]: secret }`), refusing other keys and wrong signatures with SES's
   * 403s; null (the default) checks only that requests are signed.
   */
  sesCredentials(secrets: Readonly<Record<string, string>> | null): void;
  /** SES: refuse every message with 400 SendingPausedException (the account's sending is paused) until called with false. */
  pauseSesSending(paused: boolean): void;
  /** SES: refuse every request with 403 AccessDeniedException (the key's IAM policy does not allow ses:SendEmail) until called with false. */
  denySesAccess(denied: boolean): void;
  /** Resolves when `n` messages have arrived through SendGrid's API. */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Resolves when `n` messages have arrived through SES's. */
  waitForSesMessages(n: number, timeoutMs?: number): Promise<ReceivedSesMessage[]>;
  close(): Promise<void>;
}

export async function startEmailReceiver(opts: { port?: number; host?: string } = {}): Promise<EmailReceiver> {
  const state = receiverState();
  const sendGrid = sendGridPeer(state);
  const ses = sesPeer(state);

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const run = async () => {
      if (req.method === 'POST' && url.pathname === '/v3/mail/send') return sendGrid.mailSend(req, res);
      if (req.method === 'POST' && url.pathname === '/v2/email/outbound-emails') return ses.sendEmail(req, res);
      if (req.method === 'GET' && url.pathname === '/_receiver/messages') {
        const key = url.searchParams.get('idempotency_key');
        return reply(res, 200, {
          requests: sendGrid.requests,
          messages: key ? sendGrid.messages.filter((m) => m.idempotencyKey === key) : sendGrid.messages,
          sesMessages: key ? ses.messages.filter((m) => m.idempotencyKey === key) : ses.messages,
        });
      }
      reply(res, 404, { errors: [sgError(`no route for ${req.method} ${url.pathname}`)] });
    };
    run().catch((err: unknown) => reply(res, 500, { errors: [sgError((err as Error).message)] }));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    messages: sendGrid.messages,
    sesMessages: ses.messages,
    get requests() {
      return sendGrid.requests;
    },
    failNext(count, status) {
      state.failures = { count, status };
    },
    holdResponses(ms) {
      state.holdMs = ms;
    },
    verifiedSenders(emails) {
      state.verified = emails ? new Set(emails.map((e) => e.toLowerCase())) : null;
    },
    sesCredentials: (secrets) => ses.credentials(secrets),
    pauseSesSending: (paused) => ses.pause(paused),
    denySesAccess: (denied) => ses.deny(denied),
    waitForMessages: (n, timeoutMs = 20_000) => waitFor(state, sendGrid.messages, n, timeoutMs),
    waitForSesMessages: (n, timeoutMs = 20_000) => waitFor(state, ses.messages, n, timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of state.held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (require.main === module) {
  const port = Number(process.argv[2] ?? 8025);
  void startEmailReceiver({ port }).then((r) =>
    console.log(`SendGrid- and SES-compatible receiver on ${r.url} (POST /v3/mail/send, POST /v2/email/outbound-emails, GET /_receiver/messages)`),
  );
}
