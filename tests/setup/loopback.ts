import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from '../../api/listen';

/** Runs `serve` (an Api's) on an ephemeral loopback port, as the API's own server does (api/listen.ts); resolves once it listens. */
export function serveOnLoopback(serve: RequestListener): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const server = listen(serve, 0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
    server.once('error', reject);
  });
}
