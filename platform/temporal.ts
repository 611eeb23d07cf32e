import { Client, Connection, WorkflowNotFoundError, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Config } from './config';
import { temporalRetries, type TemporalRetries } from './temporal-retry';

/**
 * The API's connection: calls are retried as platform/temporal-retry.ts describes, and `close()`
 * first lets every retry already scheduled start, so closing it (at shutdown, or a test's end)
 * never leaves a retry timer to throw on a closed channel.
 */
class DrainingConnection extends Connection {
  private readonly retries: TemporalRetries;

  private constructor(ctorOptions: ReturnType<typeof DrainingConnection.createCtorOptions>, retries: TemporalRetries) {
    super(ctorOptions);
    this.retries = retries;
  }

  /** Made on first use, like `Connection.lazy`. */
  static open(address: string): DrainingConnection {
    const retries = temporalRetries();
    return new DrainingConnection(this.createCtorOptions({ address, interceptors: [retries.interceptor] }), retries);
  }

  override async close(): Promise<void> {
    await this.retries.drain();
    await super.close();
  }
}

/**
 * A client whose connection is made on first use, so the API starts (and keeps
 * accepting webhooks) while Temporal is still starting or down.
 */
export function createTemporalClient(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>): {
  connection: Connection;
  client: Client;
} {
  const connection = DrainingConnection.open(config.TEMPORAL_ADDRESS);
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  return { connection, client };
}

/** A workflow's description, or null when Temporal has no such workflow. */
export async function describeWorkflow(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | null> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
