/**
 * One interface for every email provider (SendGrid, SES). Plays never talk to a
 * provider directly: they send through the ledger (activities/sending.ts), which
 * calls this.
 */
export interface EmailAddress {
  email: string;
  name?: string | null;
}

export interface EmailMessage {
  from: EmailAddress;
  to: EmailAddress;
  replyTo?: EmailAddress | null;
  subject: string;
  html: string;
  text: string;
  /** The ledger key, carried to the provider (custom args, headers, tags) so a message can be traced back. */
  idempotencyKey: string;
  /** Labels for the provider's analytics, e.g. the play and workspace. */
  tags?: Record<string, string>;
}

export interface SendAccepted {
  /** The provider's id of the message, when it returns one. */
  providerMessageId: string | null;
}

/**
 * The provider refused the message. `retryable` (429, 5xx, unreachable): it did not
 * take it, try again later. Otherwise (other 4xx) it never will: record it as failed
 * with the provider's message. `senderRefused`: what it refused is the sending set-up,
 * not this message (a revoked key, a key without permission to send, a from-address
 * it has not verified, a paused account): every message would be refused alike until
 * the email settings (the workspace's, or the server's) are put right.
 */
export class EmailSendError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null,
    readonly senderRefused = false,
  ) {
    super(message);
    this.name = 'EmailSendError';
  }
}

/** What a server without an email provider answers a send with (its sender's provider is 'none'). */
export const NO_PROVIDER_MESSAGE = "no email provider is configured: give the workspace its own in its email settings, or set the server's SENDGRID_API_KEY (or EMAIL_PROVIDER=ses and SES_REGION)";

export interface EmailSender {
  /** 'sendgrid', 'ses' ('none' on a server without one): recorded in the ledger. */
  readonly provider: string;
  /** Resolves when the provider accepted the message; throws EmailSendError when it did not. */
  send(message: EmailMessage): Promise<SendAccepted>;
}

/** 429 and 5xx mean "not now"; other 4xx mean "never". */
export const isRetryableStatus = (status: number) => status === 429 || status >= 500;

/** 401 (the key is not valid) and 403 (not allowed: the key's permissions, or an unverified sender) refuse the sender, not the message. */
export const isSenderRefusalStatus = (status: number) => status === 401 || status === 403;
