import type { Server } from 'node:http';
import type { Express } from 'express';

/**
 * How long an idle keep-alive connection stays open. Node's default (5 s) is shorter
 * than what senders and proxies keep idle connections for (load balancers commonly 60 s),
 * so the server would close connections the other side is about to reuse, and a
 * request written into that race fails with a reset. Longer than 60 s, the server is
 * never the side that closes first.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Starts the HTTP server for `app` with the connection timeouts above. */
export function listen(app: Express, port: number, host: string, onListening?: () => void): Server {
  const server = app.listen(port, host, onListening);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Node's rule: a headers timeout above the keep-alive timeout, or a reused connection
  // can be cut while its next request's headers arrive.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
  return server;
}
