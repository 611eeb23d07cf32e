import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A local SendGrid- and SES-compatible receiver. SendGrid: `POST /v3/mail/send`
 * checked against SendGrid's v3 mail-send format, answered like SendGrid (202 with
 * X-Message-Id, or 400/401/413 with `{ errors: [{ message, field, help }] }`). SES:
 * the API v2's SendEmail on the wire (restJson1, `POST /v2/email/outbound-emails`,
 * SigV4-signed), answered like SES (200 `{ MessageId }`, or the status with the error
 * type in `x-amzn-errortype` and `{ message }`), so @aws-sdk/client-sesv2 with its
 * `endpoint` here talks to it as to SES. Every accepted message is recorded. Tests
 * and the demo point the senders at it; it can be told to fail the next requests with
 * 429/5xx or to hold its answers (a provider that accepted a message but whose answer
 * never reached the sender), and to refuse senders as each provider does.
 *
 * Run it alone with `tsx sim/email-receiver.ts [port]`; GET /_receiver/messages
 * lists what arrived.
 */
const address = z.strictObject({ email: z.email({ error: 'does not contain a valid address.' }), name: z.string().optional() });
const headerMap = z.record(z.string(), z.string());
/** Headers SendGrid refuses to take from the request (it sets them itself). */
const RESERVED_HEADERS = ['x-sg-id', 'x-sg-eid', 'received', 'dkim-signature', 'content-type', 'content-transfer-encoding', 'to', 'from', 'subject', 'reply-to', 'cc', 'bcc'];

const personalization = z.strictObject({
  to: z.array(address).min(1, { error: 'The to array is required for all personalization objects, and must have at least one email object with a valid email address.' }).max(1000),
  cc: z.array(address).max(1000).optional(),
  bcc: z.array(address).max(1000).optional(),
  from: address.optional(),
  subject: z.string().min(1).optional(),
  headers: headerMap.optional(),
  substitutions: z.record(z.string(), z.string()).optional(),
  dynamic_template_data: z.record(z.string(), z.unknown()).optional(),
  custom_args: z.record(z.string(), z.string()).optional(),
  send_at: z.number().int().optional(),
});

export const mailSendSchema = z
  .strictObject({
    personalizations: z.array(personalization).min(1, { error: 'The personalizations field is required and must have at least one personalization.' }).max(1000),
    from: address,
    reply_to: address.optional(),
    reply_to_list: z.array(address).optional(),
    subject: z.string().min(1).optional(),
    content: z
      .array(z.strictObject({ type: z.string().min(1), value: z.string().min(1, { error: 'The content value must be a string at least one character in length.' }) }))
      .min(1)
      .optional(),
    attachments: z.array(z.strictObject({ content: z.string(), type: z.string().optional(), filename: z.string(), disposition: z.string().optional(), content_id: z.string().optional() })).optional(),
    template_id: z.string().optional(),
    headers: headerMap.optional(),
    categories: z.array(z.string().max(255)).max(10).optional(),
    custom_args: z.record(z.string(), z.string()).optional(),
    send_at: z.number().int().optional(),
    batch_id: z.string().optional(),
    asm: z.strictObject({ group_id: z.number().int(), groups_to_display: z.array(z.number().int()).optional() }).optional(),
    ip_pool_name: z.string().min(2).max(64).optional(),
    mail_settings: z.record(z.string(), z.unknown()).optional(),
    tracking_settings: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((body, ctx) => {
    const everySubject = body.personalizations.every((p) => p.subject);
    if (!body.subject && !everySubject && !body.template_id) {
      ctx.addIssue({ code: 'custom', path: ['subject'], message: 'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.' });
    }
    if (!body.content && !body.template_id) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: 'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.' });
    }
    if (body.content && body.content.length > 1) {
      const plainAt = body.content.findIndex((c) => c.type === 'text/plain');
      if (plainAt > 0) ctx.addIssue({ code: 'custom', path: ['content', plainAt, 'type'], message: 'If present, text/plain content must be first, followed by text/html, followed by any other content.' });
    }
    for (const [key, where] of [...Object.keys(body.headers ?? {}).map((k) => [k, ['headers', k]] as const)]) {
      if (RESERVED_HEADERS.includes(key.toLowerCase())) ctx.addIssue({ code: 'custom', path: [...where], message: `The header ${key} is reserved and cannot be set.` });
    }
  });

export type MailSendBody = z.infer<typeof mailSendSchema>;

/** A member SES's model requires, missing or of another type, in the words of AWS's validation errors. */
const MISSING = 'Member must not be null';
const required = (kind: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? MISSING : `Member must be ${kind}`) });
const sesContent = z.object({ Data: z.string(required('a string')), Charset: z.string().optional() }, required('an object'));
const sesNameValue = z.object({ Name: z.string(required('a string')), Value: z.string(required('a string')) });

/**
 * SES v2's SendEmailRequest as the SDK serialises it (only what SendEmail with
 * `Content.Simple` uses is looked at further; unknown members are ignored, as SES
 * does). Which members its model requires comes from the client's schema.
 */
export const sesSendEmailSchema = z.object({
  FromEmailAddress: z.string().optional(),
  FromEmailAddressIdentityArn: z.string().optional(),
  Destination: z.object({ ToAddresses: z.array(z.string()).optional(), CcAddresses: z.array(z.string()).optional(), BccAddresses: z.array(z.string()).optional() }).optional(),
  ReplyToAddresses: z.array(z.string()).optional(),
  FeedbackForwardingEmailAddress: z.string().optional(),
  Content: z.object(
    {
      Simple: z
        .object({
          Subject: sesContent,
          Body: z.object({ Text: sesContent.optional(), Html: sesContent.optional() }, required('an object')),
          Headers: z.array(sesNameValue).optional(),
        })
        .optional(),
      Raw: z.object({ Data: z.string() }).optional(),
      Template: z.record(z.string(), z.unknown()).optional(),
    },
    required('an object'),
  ),
  EmailTags: z.array(sesNameValue).optional(),
  ConfigurationSetName: z.string().optional(),
});

export type SesSendEmailBody = z.infer<typeof sesSendEmailSchema>;

export interface ReceivedSesMessage {
  /** What SendEmail answered with (`MessageId`). */
  messageId: string;
  receivedAt: Date;
  /** The access key id and region of the request's SigV4 credential scope. */
  accessKeyId: string;
  region: string;
  body: SesSendEmailBody;
  /** The from-address, its display name decoded as a mail client would show it. */
  from: { email: string; name: string | null };
  to: string[];
  replyTo: string[];
  subject: string;
  text: string | null;
  html: string | null;
  headers: Record<string, string>;
  tags: Record<string, string>;
  /** The X-Wysera-Idempotency-Key header Wysera puts on every message: its send-ledger key (tags cannot hold its colon). */
  idempotencyKey: string | null;
}

/** An SES error: its type (`x-amzn-errortype`), status and message. */
class SesError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}
const badRequest = (message: string) => new SesError(400, 'BadRequestException', message);

/** The credential scope and signature of a SigV4 `authorization` header. */
interface SigV4 {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string;
  signature: string;
}

const SIGV4 = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

function parseSigV4(header: string | undefined): SigV4 {
  // What AWS answers a request that was not signed at all.
  if (!header) throw new SesError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = SIGV4.exec(header);
  if (!m) throw new SesError(403, 'IncompleteSignatureException', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters of AWS4-HMAC-SHA256. Authorization=${header.split(' ')[0] ?? ''}`);
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = m;
  if (service !== 'ses') throw new SesError(403, 'InvalidSignatureException', "Credential should be scoped to correct service: 'ses'.");
  return { accessKeyId, date, region, service, signedHeaders, signature };
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** Whether the request's SigV4 signature is the one `secret` makes (the canonical request as AWS's signers build it). */
function signatureMatches(req: IncomingMessage, raw: Buffer, auth: SigV4, secret: string): boolean {
  const url = new URL(req.url ?? '/', 'http://receiver');
  const query = [...url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const headerValue = (name: string) => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
  };
  const canonicalHeaders = auth.signedHeaders.split(';').map((h) => `${h}:${headerValue(h)}\n`).join('');
  const canonical = [req.method ?? '', url.pathname, query, canonicalHeaders, auth.signedHeaders, sha256(raw)].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', headerValue('x-amz-date'), scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, auth.date), auth.region), auth.service), 'aws4_request');
  const expected = hmac(signingKey, toSign);
  const given = Buffer.from(auth.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** RFC 2047 encoded-words (`=?charset?B|Q?text?=`), decoded; whitespace between adjacent words goes. */
function decodeEncodedWords(text: string): string {
  const word = /=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g;
  return text.replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, '$1').replace(word, (_all, charset: string, encoding: string, data: string) => {
    const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    return /^utf-?8$/i.test(charset) ? bytes.toString('utf8') : bytes.toString('latin1');
  });
}

/**
 * One address as SES takes it: `addr@domain`, or `Name <addr@domain>` with the name
 * quoted or not. Addresses must be 7-bit ASCII; so must display names, in which SES
 * takes other characters only as RFC 2047 encoded-words: raw ones do not arrive as
 * sent, and the receiver drops them.
 */
function parseSesAddress(value: string): { email: string; name: string | null } {
  const named = /^\s*(.*?)\s*<([^<>]*)>\s*$/.exec(value);
  const email = (named ? named[2] : value)?.trim() ?? '';
  if (!email.includes('@')) throw badRequest("Missing final '@domain'");
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(email)) throw badRequest(`Illegal address: ${value}`);
  const rawName = named?.[1] ?? '';
  const unquoted = /^"(.*)"$/.exec(rawName)?.[1]?.replace(/\\(.)/g, '$1') ?? rawName;
  const name = decodeEncodedWords(unquoted.replace(/[^\x20-\x7e]/g, '')).trim();
  return { email, name: name || null };
}

/** What SES checks in a SendEmail request with Simple content beyond its schema: addresses, recipients, body, headers and tags. */
function checkSesMessage(body: SesSendEmailBody) {
  const simple = body.Content.Simple;
  if (!simple) throw badRequest(body.Content.Raw || body.Content.Template ? 'This receiver takes Simple content only (Content.Raw and Content.Template are not supported).' : 'Content must contain one of Simple, Raw or Template.');
  if (!body.FromEmailAddress) throw badRequest('FromEmailAddress is required when sending Simple content.');
  const from = parseSesAddress(body.FromEmailAddress);
  const recipients = [...(body.Destination?.ToAddresses ?? []), ...(body.Destination?.CcAddresses ?? []), ...(body.Destination?.BccAddresses ?? [])];
  if (recipients.length === 0) throw badRequest('Destination must contain at least one of ToAddresses, CcAddresses or BccAddresses.');
  if (recipients.length > 50) throw badRequest('Recipient count exceeds 50.');
  for (const a of [...recipients, ...(body.ReplyToAddresses ?? [])]) parseSesAddress(a);
  if (!simple.Body.Text && !simple.Body.Html) throw badRequest('Body must contain Text or Html.');
  const headers = simple.Headers ?? [];
  if (headers.length > 15) throw badRequest('The number of headers exceeds the maximum of 15.');
  for (const h of headers) {
    if (!/^[!-9;-~]{1,126}$/.test(h.Name)) throw badRequest(`Invalid header name ${h.Name}: 1 to 126 printable ASCII characters other than ':'.`);
    if (!/^[\x20-\x7e\t]{0,870}$/.test(h.Value)) throw badRequest(`Invalid value for header ${h.Name}: up to 870 printable ASCII characters.`);
  }
  for (const t of body.EmailTags ?? []) {
    for (const [what, v] of [['name', t.Name], ['value', t.Value]] as const) {
      if (!/^[A-Za-z0-9_-]{1,256}$/.test(v)) throw badRequest(`Invalid tag ${what} <${v}>: only alphanumeric ASCII characters, '_', and '-' are allowed.`);
    }
  }
  return { simple, from };
}

/** A SendEmail `MessageId` as SES forms them. */
const sesMessageId = () => `${randomBytes(8).toString('hex')}-${randomUUID()}-000000`;
/** The AWS account the receiver stands for in its refusals (AWS's documentation example). */
const SES_ACCOUNT = '123456789012';

export interface ReceivedMessage {
  messageId: string;
  receivedAt: Date;
  apiKey: string;
  body: MailSendBody;
  /** The custom arg Wysera puts on every message: its send-ledger key. */
  idempotencyKey: string | null;
  to: string[];
  subject: string | null;
}

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

const sgError = (message: string, field: string | null = null, help: string | null = null) => ({ message, field, help });

/** The 5xx SES answers with, by status (AWS's common errors). */
const sesServerError = (status: number) =>
  status === 503 ? new SesError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.') : new SesError(status, 'InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.');

/** Modeled SES v2 errors name their namespace in `x-amzn-errortype`; AWS's common (authentication, service) errors name Coral's. */
const SES_MODELED = new Set(['BadRequestException', 'MessageRejected', 'SendingPausedException', 'TooManyRequestsException']);

export async function startEmailReceiver(opts: { port?: number; host?: string } = {}): Promise<EmailReceiver> {
  const messages: ReceivedMessage[] = [];
  const sesMessages: ReceivedSesMessage[] = [];
  let requests = 0;
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  let holdMs = 0;
  let verified: Set<string> | null = null;
  let sesSecrets: Readonly<Record<string, string>> | null = null;
  let sesPaused = false;
  let sesDenied = false;
  const waiters = new Set<() => void>();
  const held = new Set<ServerResponse>();

  const reply = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const readBody = (req: IncomingMessage, limitBytes: number) =>
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
  const takeFailure = (): number | null => {
    if (failures.count <= 0) return null;
    failures.count--;
    return failures.status;
  };

  /** After a message is recorded: wakes the waiters, then holds the answer if told to; false when the connection went meanwhile. */
  const recorded = async (res: ServerResponse): Promise<boolean> => {
    for (const wake of waiters) wake();
    if (holdMs <= 0) return true;
    held.add(res);
    await new Promise((r) => setTimeout(r, holdMs));
    held.delete(res);
    return !res.destroyed;
  };

  async function mailSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++;
    const auth = req.headers.authorization ?? '';
    const apiKey = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    let raw: string;
    try {
      // SendGrid's limit for the whole request is 30 MB.
      raw = (await readBody(req, 30 * 1024 * 1024)).toString('utf8');
    } catch {
      return reply(res, 413, { errors: [sgError('The JSON payload you have included in your request is too large.')] });
    }
    if (!apiKey) return reply(res, 401, { errors: [sgError('The provided authorization grant is invalid, expired, or revoked')] });
    const failure = takeFailure();
    if (failure !== null) {
      const message = failure === 429 ? 'too many requests' : 'internal error';
      return reply(res, failure, { errors: [sgError(message)] }, failure === 429 ? { 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 1) } : {});
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return reply(res, 400, { errors: [sgError('Bad Request', null, null)] });
    }
    const parsed = mailSendSchema.safeParse(json);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => sgError(i.message, i.path.length ? i.path.join('.') : null, 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html'));
      return reply(res, 400, { errors });
    }
    const body = parsed.data;
    if (verified && !verified.has(body.from.email.toLowerCase())) {
      return reply(res, 403, {
        errors: [
          sgError(
            'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements',
            'from',
          ),
        ],
      });
    }
    const messageId = randomBytes(16).toString('base64url');
    messages.push({
      messageId,
      receivedAt: new Date(),
      apiKey,
      body,
      idempotencyKey: body.custom_args?.wysera_idempotency_key ?? body.personalizations[0]?.custom_args?.wysera_idempotency_key ?? null,
      to: body.personalizations.flatMap((p) => p.to.map((t) => t.email)),
      subject: body.subject ?? body.personalizations[0]?.subject ?? null,
    });
    if (await recorded(res)) reply(res, 202, undefined, { 'x-message-id': messageId });
  }

  /** SES v2 SendEmail: what SES checks, in the order it checks it (who signed, then the request, then what the key may do, the account and its identities). */
  async function sesSendEmail(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let raw: Buffer;
    try {
      // SES v2 takes messages of up to 40 MB.
      raw = await readBody(req, 40 * 1024 * 1024);
    } catch {
      throw badRequest('The request is larger than the 40 MB SES accepts.');
    }
    const auth = parseSigV4(req.headers.authorization);
    if (sesSecrets) {
      const secret = sesSecrets[auth.accessKeyId];
      if (secret === undefined) throw new SesError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
      if (!signatureMatches(req, raw, auth, secret)) {
        throw new SesError(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
      }
    }
    const failure = takeFailure();
    if (failure !== null) throw failure === 429 ? new SesError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.') : sesServerError(failure);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw badRequest('Could not parse the request body as JSON.');
    }
    const parsed = sesSendEmailSchema.safeParse(json);
    if (!parsed.success) {
      // In AWS's validation words, members named as on the wire with a lowercase initial.
      const issues = parsed.error.issues.map((i) => {
        const at = i.path.map((p) => (typeof p === 'string' ? p.charAt(0).toLowerCase() + p.slice(1) : String(p))).join('.');
        return `Value ${i.message === MISSING ? 'null ' : ''}at '${at}' failed to satisfy constraint: ${i.message}`;
      });
      throw badRequest(`${issues.length} validation error${issues.length === 1 ? '' : 's'} detected: ${issues.join('; ')}`);
    }
    const body = parsed.data;
    const { simple, from } = checkSesMessage(body);
    // Permission to send is IAM's to grant per identity, so SES can only tell once it knows the from-address.
    if (sesDenied) {
      const identity = `arn:aws:ses:${auth.region}:${SES_ACCOUNT}:identity/${from.email.split('@')[1] ?? ''}`;
      throw new SesError(403, 'AccessDeniedException', `User: arn:aws:iam::${SES_ACCOUNT}:user/mailer is not authorized to perform: ses:SendEmail on resource: ${identity} because no identity-based policy allows the ses:SendEmail action`);
    }
    if (sesPaused) throw new SesError(400, 'SendingPausedException', 'Sending is paused for this account. The message can not be sent.');
    if (verified && !verified.has(from.email.toLowerCase())) {
      const identities = body.FromEmailAddress === from.email ? from.email : `${body.FromEmailAddress}, ${from.email}`;
      throw new SesError(400, 'MessageRejected', `Email address is not verified. The following identities failed the check in region ${auth.region.toUpperCase()}: ${identities}`);
    }
    const headers = Object.fromEntries((simple.Headers ?? []).map((h) => [h.Name, h.Value]));
    const messageId = sesMessageId();
    sesMessages.push({
      messageId,
      receivedAt: new Date(),
      accessKeyId: auth.accessKeyId,
      region: auth.region,
      body,
      from,
      to: (body.Destination?.ToAddresses ?? []).map((a) => parseSesAddress(a).email),
      replyTo: (body.ReplyToAddresses ?? []).map((a) => parseSesAddress(a).email),
      subject: simple.Subject.Data,
      text: simple.Body.Text?.Data ?? null,
      html: simple.Body.Html?.Data ?? null,
      headers,
      tags: Object.fromEntries((body.EmailTags ?? []).map((t) => [t.Name, t.Value])),
      idempotencyKey: Object.entries(headers).find(([name]) => name.toLowerCase() === 'x-wysera-idempotency-key')?.[1] ?? null,
    });
    if (await recorded(res)) reply(res, 200, { MessageId: messageId }, { 'x-amzn-requestid': requestId });
  }

  const sesFailed = (res: ServerResponse, e: SesError) => {
    const namespace = SES_MODELED.has(e.type) ? 'com.amazonaws.sesv2' : 'com.amazon.coral.service';
    // AccessDeniedException carries `Message`, the others `message`, as AWS answers them.
    reply(res, e.status, { [e.type === 'AccessDeniedException' ? 'Message' : 'message']: e.message }, { 'x-amzn-errortype': `${e.type}:http://internal.amazon.com/coral/${namespace}/`, 'x-amzn-requestid': randomUUID() });
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const run = async () => {
      if (req.method === 'POST' && url.pathname === '/v3/mail/send') return mailSend(req, res);
      if (req.method === 'POST' && url.pathname === '/v2/email/outbound-emails') {
        return sesSendEmail(req, res).catch((err: unknown) => {
          if (err instanceof SesError) return sesFailed(res, err);
          throw err;
        });
      }
      if (req.method === 'GET' && url.pathname === '/_receiver/messages') {
        const key = url.searchParams.get('idempotency_key');
        return reply(res, 200, {
          requests,
          messages: key ? messages.filter((m) => m.idempotencyKey === key) : messages,
          sesMessages: key ? sesMessages.filter((m) => m.idempotencyKey === key) : sesMessages,
        });
      }
      reply(res, 404, { errors: [sgError(`no route for ${req.method} ${url.pathname}`)] });
    };
    run().catch((err: unknown) => reply(res, 500, { errors: [sgError((err as Error).message)] }));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  /** Resolves with `list` once it holds `n` entries. */
  const waitFor = async <T>(list: T[], n: number, timeoutMs: number): Promise<T[]> => {
    if (list.length >= n) return list;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`expected ${n} messages within ${timeoutMs} ms; got ${list.length}`));
      }, timeoutMs);
      const check = () => {
        if (list.length < n) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
    return list;
  };

  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    messages,
    sesMessages,
    get requests() {
      return requests;
    },
    failNext(count, status) {
      failures = { count, status };
    },
    holdResponses(ms) {
      holdMs = ms;
    },
    verifiedSenders(emails) {
      verified = emails ? new Set(emails.map((e) => e.toLowerCase())) : null;
    },
    sesCredentials(secrets) {
      sesSecrets = secrets;
    },
    pauseSesSending(paused) {
      sesPaused = paused;
    },
    denySesAccess(denied) {
      sesDenied = denied;
    },
    waitForMessages: (n, timeoutMs = 20_000) => waitFor(messages, n, timeoutMs),
    waitForSesMessages: (n, timeoutMs = 20_000) => waitFor(sesMessages, n, timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
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
