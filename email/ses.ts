import { domainToASCII } from 'node:url';
import { SESv2Client, SendEmailCommand, type SESv2ClientConfig } from '@aws-sdk/client-sesv2';
import { withoutAccountNumbers } from '../domain/aws-arns';
import { EmailSendError, isRetryableStatus, isSenderRefusalStatus, type EmailAddress, type EmailMessage, type EmailSender, type SendAccepted } from './sender';

/** SES errors (all 400s) that refuse the account or its from-address rather than the message. */
const SES_ACCOUNT_REFUSALS = new Set(['AccountSuspendedException', 'SendingPausedException', 'MailFromDomainNotVerifiedException']);

export interface SesOptions {
  region: string;
  /** A custom endpoint (e.g. a VPC endpoint or a local SES-compatible service). */
  endpoint?: string;
  credentials?: SESv2ClientConfig['credentials'];
  /** The SES configuration set that records events for this sender, if any. */
  configurationSet?: string;
}

/**
 * SES takes display names in printable ASCII only (others arrive garbled or without
 * those characters): any other name goes as RFC 2047 encoded-words, UTF-8 in base64,
 * each within the 75 characters the RFC allows and never splitting a character.
 */
function displayName(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name.replace(/["\\]/g, '')}"`;
  const words: string[] = [];
  let word = '';
  for (const ch of name) {
    if (Buffer.byteLength(word + ch) > 45) {
      words.push(word);
      word = '';
    }
    word += ch;
  }
  words.push(word);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ');
}

/** An address as SES takes it: a domain beyond ASCII in its Punycode form (SES refuses it otherwise). */
const asciiAddress = (email: string) => {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1);
  return at < 0 || /^[\x20-\x7e]*$/.test(domain) ? email : `${email.slice(0, at + 1)}${domainToASCII(domain) || domain}`;
};
const address = (a: EmailAddress) => (a.name ? `${displayName(a.name)} <${asciiAddress(a.email)}>` : asciiAddress(a.email));

/** SES tag values allow only ASCII letters, digits, _ and -. */
const tagValue = (v: string) => v.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256);


/** The Amazon SES (v2 API) adapter. The SDK's own retries are off: the ledger's caller retries. */
export function createSesSender(options: SesOptions): EmailSender {
  const client = new SESv2Client({
    region: options.region,
    maxAttempts: 1,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  return {
    provider: 'ses',
    async send(m: EmailMessage): Promise<SendAccepted> {
      try {
        const out = await client.send(
          new SendEmailCommand({
            FromEmailAddress: address(m.from),
            Destination: { ToAddresses: [address(m.to)] },
            ...(m.replyTo ? { ReplyToAddresses: [address(m.replyTo)] } : {}),
            Content: {
              Simple: {
                Subject: { Data: m.subject, Charset: 'UTF-8' },
                Body: { Text: { Data: m.text, Charset: 'UTF-8' }, Html: { Data: m.html, Charset: 'UTF-8' } },
                Headers: [{ Name: 'X-Wysera-Idempotency-Key', Value: m.idempotencyKey }],
              },
            },
            EmailTags: [
              { Name: 'wysera_idempotency_key', Value: tagValue(m.idempotencyKey) },
              ...Object.entries(m.tags ?? {}).map(([Name, Value]) => ({ Name, Value: tagValue(Value) })),
            ],
            ...(options.configurationSet ? { ConfigurationSetName: options.configurationSet } : {}),
          }),
        );
        return { providerMessageId: out.MessageId ?? null };
      } catch (err) {
        const e = err as { $metadata?: { httpStatusCode?: number }; name?: string; message?: string };
        const status = e.$metadata?.httpStatusCode;
        if (typeof status === 'number') {
          const retryable = isRetryableStatus(status) || e.name === 'TooManyRequestsException' || e.name === 'LimitExceededException';
          const senderRefused = isSenderRefusalStatus(status) || SES_ACCOUNT_REFUSALS.has(e.name ?? '');
          throw new EmailSendError(`SES ${status} ${e.name ?? ''}: ${withoutAccountNumbers(e.message ?? 'error')}`, retryable, status, senderRefused);
        }
        // No credentials to sign with (none configured, none in the environment): nothing
        // is sent until the set-up is put right, as when SES refuses the key itself.
        if (e.name === 'CredentialsProviderError') throw new EmailSendError(`SES: no AWS credentials to sign with: ${withoutAccountNumbers(e.message ?? 'none found')}`, true, null, true);
        throw new EmailSendError(`SES unreachable: ${withoutAccountNumbers(e.message ?? String(err))}`, true, null);
      }
    },
  };
}
