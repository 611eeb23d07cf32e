import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readBody, recorded, reply, takeFailure, type ReceiverState } from './shared';

/**
 * The receiver's SendGrid peer: `POST /v3/mail/send` checked against SendGrid's v3
 * mail-send format, answered like SendGrid (202 with X-Message-Id, or 400/401/403/413
 * with `{ errors: [{ message, field, help }] }`).
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

/** An error as SendGrid words it in its `errors` list. */
export const sgError = (message: string, field: string | null = null, help: string | null = null) => ({ message, field, help });

export interface SendGridPeer {
  /** Messages SendGrid's API accepted, in arrival order. */
  messages: ReceivedMessage[];
  /** Every POST /v3/mail/send, accepted or not. */
  requests: number;
  mailSend(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function sendGridPeer(state: ReceiverState): SendGridPeer {
  const peer: SendGridPeer = { messages: [], requests: 0, mailSend };

  async function mailSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    peer.requests++;
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
    const failure = takeFailure(state);
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
    if (state.verified && !state.verified.has(body.from.email.toLowerCase())) {
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
    peer.messages.push({
      messageId,
      receivedAt: new Date(),
      apiKey,
      body,
      idempotencyKey: body.custom_args?.wysera_idempotency_key ?? body.personalizations[0]?.custom_args?.wysera_idempotency_key ?? null,
      to: body.personalizations.flatMap((p) => p.to.map((t) => t.email)),
      subject: body.subject ?? body.personalizations[0]?.subject ?? null,
    });
    if (await recorded(state, res)) reply(res, 202, undefined, { 'x-message-id': messageId });
  }

  return peer;
}
