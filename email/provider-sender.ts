import { createSendGridSender } from './sendgrid';
import { createSesSender } from './ses';
import type { EmailProviderConfig } from './provider-config';
import type { EmailSender } from './sender';

/**
 * Where the deployment points each provider (SENDGRID_API_BASE, SES_ENDPOINT,
 * SES_CONFIGURATION_SET): the same for a workspace's own credentials as for the
 * deployment's, so the demo and tests reach the local receiver either way.
 */
export interface ProviderEndpoints {
  sendgridBaseUrl?: string;
  sesEndpoint?: string;
  sesConfigurationSet?: string;
}

/** A sender for a workspace's own provider credentials. */
export function createProviderSender(config: EmailProviderConfig, endpoints: ProviderEndpoints = {}): EmailSender {
  if (config.kind === 'sendgrid') {
    return createSendGridSender({ apiKey: config.apiKey, ...(endpoints.sendgridBaseUrl ? { baseUrl: endpoints.sendgridBaseUrl } : {}) });
  }
  return createSesSender({
    region: config.region,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    ...(endpoints.sesEndpoint ? { endpoint: endpoints.sesEndpoint } : {}),
    ...(endpoints.sesConfigurationSet ? { configurationSet: endpoints.sesConfigurationSet } : {}),
  });
}
