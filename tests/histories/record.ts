/**
 * Records workflow histories for the replay tests: `npm run record-histories`.
 * Run it when a workflow gains new behaviour worth protecting, and commit the JSON.
 * Never re-record to make a failing replay test pass: that failure means running
 * workflows would break; guard the change with patched() instead.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { customerWorkflow } from '../../workflows/customer';
import { recentEventsQuery, stripeEventSignal } from '../../workflows/messages';
import { workflowsPath } from '../../workers/worker';
import { toolPaths } from '../setup/tools';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: toolPaths().temporal } } });
  const taskQueue = `record-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: workflowsPath() });
  await worker.runUntil(async () => {
    const workflowId = 'customer:ws_record:cus_record';
    const handle = await env.client.workflow.start<typeof customerWorkflow>('customerWorkflow', {
      taskQueue,
      workflowId,
      args: [{ workspaceId: 'ws_record', customerId: 'cus_record' }],
    });
    const types = ['customer.subscription.created', 'invoice.payment_failed', 'invoice.payment_failed', 'invoice.payment_succeeded'];
    for (const [i, type] of types.entries()) {
      // The third signal repeats the second event id: a re-delivery.
      const n = i === 2 ? 1 : i;
      await handle.signal(stripeEventSignal, { eventId: `evt_rec_${n}`, type, stripeCreated: new Date(Date.UTC(2026, 0, 1, n)).toISOString(), objectId: `obj_${n}`, inboxSeq: n + 1 });
    }
    await handle.query(recentEventsQuery);
    await handle.terminate('recorded');
    const history = await handle.fetchHistory();
    const file = path.join(__dirname, 'customerWorkflow-signals-and-duplicate.json');
    writeFileSync(file, `${historyToJSON(history)}\n`);
    console.log(`wrote ${file} (${history.events?.length} events)`);
  });
  await env.teardown();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
