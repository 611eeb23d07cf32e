import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import { EmailSendError, isRetryableStatus, isSenderRefusalStatus, type EmailMessage, type EmailSender, type SendAccepted } from './sender';

export interface SendGridOptions {
  apiKey: string;
  /** SendGrid's API by default; tests point it at sim/email-receiver.ts. */
  baseUrl?: string;
  timeoutMs?: number;
}

interface SendGridErrorBody {
  errors?: { message?: string; field?: string | null }[];
}

/** The SendGrid adapter, through @sendgrid/mail with its own client (never the shared singleton). */
export function createSendGridSender(options: SendGridOptions): EmailSender {
  const client = new Client();
  client.setApiKey(options.apiKey);
  if (options.baseUrl) client.setDefaultRequest('baseUrl', options.baseUrl);
  const mail = new MailService();
  mail.setClient(client);
  mail.setTimeout(options.timeoutMs ?? 30_000);

  return {
    provider: 'sendgrid',
    async send(m: EmailMessage): Promise<SendAccepted> {
      try {
        const [response] = await mail.send({
          from: { email: m.from.email, ...(m.from.name ? { name: m.from.name } : {}) },
          to: { email: m.to.email, ...(m.to.name ? { name: m.to.name } : {}) },
          ...(m.replyTo ? { replyTo: { email: m.replyTo.email, ...(m.replyTo.name ? { name: m.replyTo.name } : {}) } } : {}),
          subject: m.subject,
          // SendGrid requires text/plain before text/html.
          content: [
            { type: 'text/plain', value: m.text },
            { type: 'text/html', value: m.html },
          ],
          customArgs: { wysera_idempotency_key: m.idempotencyKey, ...(m.tags ?? {}) },
          headers: { 'X-Wysera-Idempotency-Key': m.idempotencyKey },
        });
        const id: unknown = (response.headers as Record<string, unknown>)['x-message-id'];
        return { providerMessageId: typeof id === 'string' ? id : null };
      } catch (err) {
        throw toSendError(err);
      }
    },
  };
}

function toSendError(err: unknown): EmailSendError {
  const e = err as { code?: unknown; response?: { body?: unknown }; message?: string };
  if (typeof e.code === 'number') {
    const body = e.response?.body as SendGridErrorBody | undefined;
    const detail = body?.errors?.map((x) => (x.field ? `${x.field}: ${x.message ?? ''}` : (x.message ?? ''))).join('; ');
    return new EmailSendError(`SendGrid ${e.code}: ${detail || e.message || 'error'}`, isRetryableStatus(e.code), e.code, isSenderRefusalStatus(e.code));
  }
  // No HTTP answer at all (connection refused, timeout): SendGrid did not take it.
  return new EmailSendError(`SendGrid unreachable: ${e.message ?? String(err)}`, true, null);
}
