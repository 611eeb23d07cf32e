import { z } from 'zod';

const noSpaces = (what: string) => z.string().regex(/^\S+$/, { error: `${what} must not contain spaces` });

/** A workspace's own email provider: its kind and credentials (stored sealed by db/email-provider.ts). */
export const emailProviderSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('sendgrid'),
      apiKey: noSpaces('apiKey').min(8, { error: 'a SendGrid API key (SG....)' }).max(512),
    }),
    z.strictObject({
      kind: z.literal('ses'),
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: 'an AWS region such as eu-west-1' }),
      accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, { error: 'an AWS access key id (16-128 capital letters and digits)' }),
      secretAccessKey: noSpaces('secretAccessKey').min(16, { error: 'an AWS secret access key' }).max(256),
    }),
  ],
  { error: "kind must be 'sendgrid' or 'ses'" },
);

export type EmailProviderConfig = z.infer<typeof emailProviderSchema>;
export type EmailProviderKind = EmailProviderConfig['kind'];

/** What may be shown and audited: never the key itself. */
export interface EmailProviderSummary {
  kind: EmailProviderKind;
  /** The last four characters of the SendGrid key or of the AWS access key id. */
  keyHint: string;
  region?: string;
}

/** Enough of the key to tell which one is configured: SendGrid's key, or the AWS access key id. */
export const keyHintOf = (c: EmailProviderConfig) => (c.kind === 'sendgrid' ? c.apiKey : c.accessKeyId).slice(-4);
