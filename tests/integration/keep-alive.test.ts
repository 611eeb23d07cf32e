import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEP_ALIVE_TIMEOUT_MS, listen } from '../../api/listen';

describe('API server connections', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    const app = express();
    app.post('/hook', (_req, res) => {
      res.status(200).json({ received: true });
    });
    server = await new Promise<http.Server>((resolve) => {
      const s = listen(app, 0, '127.0.0.1', () => resolve(s));
    });
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** One POST on the agent's kept-alive socket; resolves with the status and the socket used. */
  const post = (agent: http.Agent) =>
    new Promise<{ status: number; socket: Socket }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/hook', method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket! }));
      });
      req.on('error', reject);
      req.end('{}');
    });

  it('keeps an idle connection open past Node’s default (5 s, closed at about 6 s), so a sender reusing it is not reset', async () => {
    expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
    expect(server.headersTimeout).toBeGreaterThan(KEEP_ALIVE_TIMEOUT_MS);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await post(agent);
      let closedByServer = false;
      first.socket.once('close', () => (closedByServer = true));
      // Node closes an idle connection about a second after its keep-alive timeout.
      await new Promise((r) => setTimeout(r, 7_000));
      expect(closedByServer).toBe(false);
      const second = await post(agent);
      expect(second.status).toBe(200);
      // The same connection answered both.
      expect(second.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  }, 20_000);
});
