import { Client, Connection } from '@temporalio/client';
import type { Config } from './config';

/**
 * A client whose connection is made on first use, so the API starts (and keeps
 * accepting webhooks) while Temporal is still starting or down.
 */
export function createTemporalClient(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>): {
  connection: Connection;
  client: Client;
} {
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  return { connection, client };
}
