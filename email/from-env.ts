import { z } from 'zod';
import { createSendGridSender } from './sendgrid';
import { createSesSender } from './ses';
import type { ProviderEndpoints } from './provider-sender';
import { EmailSendError, NO_PROVIDER_MESSAGE, type EmailSender } from './sender';

const emailEnv = z.object({
  EMAIL_PROVIDER: z.enum(['sendgrid', 'ses']).default('sendgrid'),
  SENDGRID_API_KEY: z.string().min(1).optional(),
  /** Another SendGrid-compatible endpoint, e.g. sim/email-receiver.ts in the demo and tests. */
  SENDGRID_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  SES_REGION: z.string().min(1).optional(),
  SES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  SES_CONFIGURATION_SET: z.string().min(1).optional(),
  /** From-address for workspaces that have not set their own. */
  EMAIL_DEFAULT_FROM: z.email().optional(),
});

/**
 * The worker's default email provider, from the environment: SendGrid (SENDGRID_API_KEY,
 * optionally SENDGRID_API_BASE) or SES (EMAIL_PROVIDER=ses, SES_REGION). Workspaces
 * with their own provider (email settings) use it instead, through the same
 * endpoints. Without a provider nothing can be sent for the others: every send is
 * recorded as failed with a message saying what to set, and nothing else stops working.
 */
export function emailFromEnv(env: NodeJS.ProcessEnv = process.env): { sender: EmailSender; defaultFrom: string | undefined; endpoints: ProviderEndpoints } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = emailEnv.safeParse(cleaned);
  if (!parsed.success) throw new Error(`Invalid email configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  const c = parsed.data;
  const endpoints: ProviderEndpoints = {
    ...(c.SENDGRID_API_BASE ? { sendgridBaseUrl: c.SENDGRID_API_BASE } : {}),
    ...(c.SES_ENDPOINT ? { sesEndpoint: c.SES_ENDPOINT } : {}),
    ...(c.SES_CONFIGURATION_SET ? { sesConfigurationSet: c.SES_CONFIGURATION_SET } : {}),
  };
  if (c.EMAIL_PROVIDER === 'ses') {
    const region = c.SES_REGION ?? env.AWS_REGION;
    if (!region) throw new Error('Invalid email configuration: EMAIL_PROVIDER=ses needs SES_REGION (or AWS_REGION)');
    return {
      sender: createSesSender({ region, ...(c.SES_ENDPOINT ? { endpoint: c.SES_ENDPOINT } : {}), ...(c.SES_CONFIGURATION_SET ? { configurationSet: c.SES_CONFIGURATION_SET } : {}) }),
      defaultFrom: c.EMAIL_DEFAULT_FROM,
      endpoints,
    };
  }
  if (!c.SENDGRID_API_KEY) {
    return {
      sender: {
        provider: 'none',
        send: () => Promise.reject(new EmailSendError(NO_PROVIDER_MESSAGE, false, null, true)),
      },
      defaultFrom: c.EMAIL_DEFAULT_FROM,
      endpoints,
    };
  }
  return { sender: createSendGridSender({ apiKey: c.SENDGRID_API_KEY, ...(c.SENDGRID_API_BASE ? { baseUrl: c.SENDGRID_API_BASE } : {}) }), defaultFrom: c.EMAIL_DEFAULT_FROM, endpoints };
}
