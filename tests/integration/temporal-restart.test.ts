import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { DevServerExited, restartTemporalDevServer, startTemporalDevServerOnFreePort } from '../setup/temporal-server';

/*
 * The outage tests stop the Temporal dev server and start it again on the same port
 * and database file. As it starts, the dev server picks ports for its internal
 * services, and one can be the port just released; the restart then tries again on
 * the same port, and gives up only after three servers in a row could not start.
 */
describe('restarting the Temporal dev server', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wysera-temporal-restart-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('comes back on the same port with the same database', async () => {
    const dbFile = path.join(dir, 'kept.db');
    const first = await startTemporalDevServerOnFreePort(dbFile);
    try {
      // A workflow started (no worker needs to run it) is state the restart must keep.
      const before = await Connection.connect({ address: first.address });
      try {
        await new Client({ connection: before }).workflow.start('restartProbe', { taskQueue: 'restart-probe', workflowId: 'kept-across-restart' });
      } finally {
        await before.close();
      }
    } finally {
      await first.stop();
    }

    const again = await restartTemporalDevServer(first, dbFile);
    try {
      const after = await Connection.connect({ address: again.address });
      const description = await new Client({ connection: after }).workflow.getHandle('kept-across-restart').describe();
      expect(description.status.name).toBe('RUNNING');
      await after.close();
    } finally {
      await again.stop();
    }
  }, 120_000);

  it('tries the same port three times while something else holds it, then says so', async () => {
    // It takes the port and drops every connection made to it.
    const holder: Server = createServer((socket) => socket.destroy());
    const port = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      await expect(restartTemporalDevServer({ port }, path.join(dir, 'held.db'))).rejects.toBeInstanceOf(DevServerExited);
      // Only the helper's own warnings: anything else that warns meanwhile is not its business.
      const retries = warn.mock.calls.map(([message]) => String(message)).filter((message) => message.startsWith('Temporal dev server'));
      expect(retries).toEqual([
        expect.stringContaining(`on port ${port} (try 1 of 3`),
        expect.stringContaining(`on port ${port} (try 2 of 3`),
      ]);
    } finally {
      warn.mockRestore();
      await new Promise((resolve) => holder.close(resolve));
    }
  }, 120_000);
});
