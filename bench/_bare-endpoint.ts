/**
 * The webhook benchmark's baseline: a bare Express endpoint that only answers 200, on a
 * thread of its own. Its own event loop, so its answers queue behind no other work of
 * the benchmark's process (the Stripe simulator serves the plays' reads on the main
 * thread while the real ingress is loaded), though it shares the machine's cores.
 */
import { Worker as Thread } from 'node:worker_threads';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS } from '../api/listen';

export interface BareEndpoint {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Throws if the thread has ended on its own (the figures of a load sent to it since would be of nothing). */
  assertRunning(): void;
  /** Closes the server (idle keep-alive connections with it) and ends the thread. */
  stop(): Promise<void>;
}

// Posts its port once listening; on 'stop', closes the server and lets the thread end.
// The API's connection timeouts (api/listen.ts): with Node's default 5 s keep-alive the
// server would close idle connections the load is about to reuse, failing requests with
// resets and opening new connections the real ingress never has to.
const BARE_THREAD = `
  const { workerData, parentPort } = require('node:worker_threads');
  const express = require(workerData.express);
  const app = express();
  app.post('/webhooks/stripe/:workspaceId', express.raw({ type: () => true }), (_req, res) => {
    res.status(200).json({ received: true });
  });
  const server = app.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
  server.keepAliveTimeout = workerData.keepAliveTimeout;
  server.headersTimeout = workerData.headersTimeout;
  parentPort.on('message', () => {
    server.closeAllConnections();
    server.close(() => parentPort.close());
  });
`;

export function startBareEndpoint(): Promise<BareEndpoint> {
  const thread = new Thread(BARE_THREAD, { eval: true, workerData: { express: require.resolve('express'), keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS } });
  let stopping = false;
  let failure: string | undefined;
  thread.on('error', (err) => (failure ??= String(err)));
  const ended = new Promise<void>((resolve) =>
    thread.once('exit', (code) => {
      if (!stopping) failure ??= `exited with ${code}`;
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    void ended.then(() => reject(new Error(`the bare endpoint's thread ended before it listened: ${failure}`)));
    thread.once('message', (port: number) =>
      resolve({
        port,
        assertRunning: () => {
          if (failure !== undefined) throw new Error(`the bare endpoint's thread ended during the run: ${failure}`);
        },
        stop: async () => {
          stopping = true;
          thread.postMessage('stop');
          await ended;
        },
      }),
    );
  });
}
