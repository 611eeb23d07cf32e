import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { freePort } from './ports';
import { toolPaths } from './tools';

export interface TemporalDevServer {
  address: string;
  /** The frontend's port (a restart with the same `dbFile` must use it again). */
  port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** The dev server ended before it answered (a port taken, say). */
export class DevServerExited extends Error {
  constructor(how: string) {
    super(`Temporal dev server ${how} before it answered`);
    this.name = 'DevServerExited';
  }
}

/**
 * startTemporalDevServer on a free port, trying up to three: the dev server also picks
 * free ports for its internal services as it starts, and one of them can take the port
 * freePort() has just released (the frontend then fails to bind and the server exits).
 * A `dbFile` that a failed try created is removed before the next, so the server that
 * answers starts from nothing written for another port; one that existed before the
 * call is never removed (it is opened as it is by whichever try answers), so this is
 * for a new database, and a restart on an existing one belongs on its own port
 * (startTemporalDevServer).
 */
export async function startTemporalDevServerOnFreePort(dbFile?: string, opts: { nice?: number } = {}): Promise<TemporalDevServer> {
  const fresh = dbFile !== undefined && !existsSync(dbFile);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startTemporalDevServer(port, dbFile, opts);
    } catch (err) {
      if (!(err instanceof DevServerExited) || attempt === 3) throw err;
      console.warn(`${err.message} on port ${port} (try ${attempt} of 3; its log above says why); trying another port`);
      // SQLite's journal files beside the database go with it.
      if (fresh) for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${dbFile}${suffix}`, { force: true });
    }
  }
}

/**
 * Starts `temporal server start-dev` on a loopback port and waits until it answers.
 * With `dbFile` its state survives a stop and a restart on the same port; with `nice`
 * it runs at that lower CPU priority (as `npm start` runs it beside the API).
 */
export async function startTemporalDevServer(port: number, dbFile?: string, opts: { nice?: number } = {}): Promise<TemporalDevServer> {
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  if (dbFile) args.push('--db-filename', dbFile);
  const cmd = opts.nice ? ['nice', '-n', String(opts.nice), toolPaths().temporal, ...args] : [toolPaths().temporal, ...args];
  const child: ChildProcess = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new DevServerExited(`exited with ${child.exitCode}`);
    if (child.signalCode !== null) throw new DevServerExited(`was ended by ${child.signalCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
