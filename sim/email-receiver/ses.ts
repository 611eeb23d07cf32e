import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readBody, recorded, reply, takeFailure, type ReceiverState } from './shared';

/*
 * The receiver's SES peer: the API v2's SendEmail on the wire (restJson1,
 * `POST /v2/email/outbound-emails`, SigV4-signed), answered like SES (200
 * `{ MessageId }`, or the status with the error type in `x-amzn-errortype` and
 * `{ message }`), so @aws-sdk/client-sesv2 with its `endpoint` here talks to it as to SES.
 */

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

/** The 5xx SES answers with, by status (AWS's common errors). */
const sesServerError = (status: number) =>
  status === 503 ? new SesError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.') : new SesError(status, 'InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.');

/** Modeled SES v2 errors name their namespace in `x-amzn-errortype`; AWS's common (authentication, service) errors name Coral's. */
const SES_MODELED = new Set(['BadRequestException', 'MessageRejected', 'SendingPausedException', 'TooManyRequestsException']);

export interface SesPeer {
  /** Messages SES's SendEmail accepted, in arrival order. */
  messages: ReceivedSesMessage[];
  /** SendEmail, answered as SES answers it, its refusals included. */
  sendEmail(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Checks each request's signature with these secrets by access key id; null checks only that requests are signed. */
  credentials(secrets: Readonly<Record<string, string>> | null): void;
  pause(paused: boolean): void;
  deny(denied: boolean): void;
}

export function sesPeer(state: ReceiverState): SesPeer {
  const messages: ReceivedSesMessage[] = [];
  let secrets: Readonly<Record<string, string>> | null = null;
  let paused = false;
  let denied = false;

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
    if (secrets) {
      const secret = secrets[auth.accessKeyId];
      if (secret === undefined) throw new SesError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
      if (!signatureMatches(req, raw, auth, secret)) {
        throw new SesError(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
      }
    }
    const failure = takeFailure(state);
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
    if (denied) {
      const identity = `arn:aws:ses:${auth.region}:${SES_ACCOUNT}:identity/${from.email.split('@')[1] ?? ''}`;
      throw new SesError(403, 'AccessDeniedException', `User: arn:aws:iam::${SES_ACCOUNT}:user/mailer is not authorized to perform: ses:SendEmail on resource: ${identity} because no identity-based policy allows the ses:SendEmail action`);
    }
    if (paused) throw new SesError(400, 'SendingPausedException', 'Sending is paused for this account. The message can not be sent.');
    if (state.verified && !state.verified.has(from.email.toLowerCase())) {
      const identities = body.FromEmailAddress === from.email ? from.email : `${body.FromEmailAddress}, ${from.email}`;
      throw new SesError(400, 'MessageRejected', `Email address is not verified. The following identities failed the check in region ${auth.region.toUpperCase()}: ${identities}`);
    }
    const headers = Object.fromEntries((simple.Headers ?? []).map((h) => [h.Name, h.Value]));
    const messageId = sesMessageId();
    messages.push({
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
    if (await recorded(state, res)) reply(res, 200, { MessageId: messageId }, { 'x-amzn-requestid': requestId });
  }

  const sesFailed = (res: ServerResponse, e: SesError) => {
    const namespace = SES_MODELED.has(e.type) ? 'com.amazonaws.sesv2' : 'com.amazon.coral.service';
    // AccessDeniedException carries `Message`, the others `message`, as AWS answers them.
    reply(res, e.status, { [e.type === 'AccessDeniedException' ? 'Message' : 'message']: e.message }, { 'x-amzn-errortype': `${e.type}:http://internal.amazon.com/coral/${namespace}/`, 'x-amzn-requestid': randomUUID() });
  };

  return {
    messages,
    sendEmail: (req, res) =>
      sesSendEmail(req, res).catch((err: unknown) => {
        if (err instanceof SesError) return sesFailed(res, err);
        throw err;
      }),
    credentials(given) {
      secrets = given;
    },
    pause(given) {
      paused = given;
    },
    deny(given) {
      denied = given;
    },
  };
}
