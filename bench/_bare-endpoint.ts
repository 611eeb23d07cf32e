/**
 * The webhook benchmark's baseline: a bare Express endpoint that only answers 200, on a
 * thread of its own. Its own event loop, so its answers wait on nothing else the
 * benchmark's process runs (the Stripe simulator serves the plays' reads on the main
 * thread while the real ingress is loaded, and a request sent beside that load must not
 * queue behind them).
 */
import { Worker as Thread } from 'node:worker_threads';

export interface BareEndpoint {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Closes the server (idle keep-alive connections with it) and ends the thread. */
  stop(): Promise<void>;
}

// Posts its port once listening; on 'stop', closes the server and lets the thread end.
const BARE_THREAD = `
  const { workerData, parentPort } = require('node:worker_threads');
  const express = require(workerData.express);
  const app = express();
  app.post('/webhooks/stripe/:workspaceId', express.raw({ type: () => true }), (_req, res) => {
    res.status(200).json({ received: true });
  });
  const server = app.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
  parentPort.on('message', () => {
    server.closeAllConnections();
    server.close(() => parentPort.close());
  });
`;

export function startBareEndpoint(): Promise<BareEndpoint> {
  const thread = new Thread(BARE_THREAD, { eval: true, workerData: { express: require.resolve('express') } });
  const ended = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the bare endpoint's thread ended (${code}) before it listened`)));
    thread.once('message', (port: number) =>
      resolve({
        port,
        stop: async () => {
          thread.postMessage('stop');
          await ended;
        },
      }),
    );
  });
}
