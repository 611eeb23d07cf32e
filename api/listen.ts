import { createServer, type RequestListener, type Server } from 'node:http';

/**
 * How long an idle keep-alive connection stays open. Node's default (5 s) is shorter
 * than what senders and proxies keep idle connections for (load balancers commonly 60 s),
 * so the server would close connections the other side is about to reuse, and a
 * request written into that race fails with a reset. Longer than 60 s, the server is
 * never the side that closes first.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * Node's rule: a headers timeout above the keep-alive timeout, or a reused connection
 * can be cut while its next request's headers arrive.
 */
export const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 1000;

/** Starts an HTTP server running `serve` (an Api's, or an Express app) with the connection timeouts above. */
export function listen(serve: RequestListener, port: number, host: string, onListening?: () => void): Server {
  const server = createServer(serve);
  server.listen(port, host, onListening);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  return server;
}
