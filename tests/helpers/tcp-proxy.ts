import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP relay between a client and a real server (here Postgres), to break the network
 * path in ways a restart cannot: `freeze` stops every open connection's traffic without
 * closing it (a path that died without a reset, so neither end hears of it), `cut`
 * closes those frozen connections at both ends (as when Postgres's keepalive gives up
 * on its peer). Connections made after a freeze flow as usual.
 */
export interface TcpProxy {
  port: number;
  /** The server's URL with the proxy's port in place of its own. */
  urlFor(serverUrl: string): string;
  freeze(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; server: Socket; frozen: boolean }>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair = { client, server: upstream, frozen: false };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    urlFor(serverUrl) {
      const url = new URL(serverUrl);
      url.host = `127.0.0.1:${port}`;
      return url.toString();
    },
    freeze() {
      for (const pair of pairs) {
        pair.frozen = true;
        pair.client.unpipe(pair.server);
        pair.server.unpipe(pair.client);
        pair.client.pause();
        pair.server.pause();
      }
    },
    cut() {
      for (const pair of [...pairs].filter((p) => p.frozen)) {
        pairs.delete(pair);
        pair.client.destroy();
        pair.server.destroy();
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
