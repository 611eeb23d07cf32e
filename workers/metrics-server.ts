import { createServer, type Server } from 'node:http';

/** What /metrics serves: a prom-client Registry, or figures put together at each scrape. */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

/** Serves the worker's Prometheus metrics at GET /metrics (the worker has no other HTTP). */
export function serveMetrics(source: MetricsSource, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    source.metrics().then(
      (body) => res.writeHead(200, { 'content-type': source.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
