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

/** How many times the helpers below start the dev server before they give up. */
const TRIES = 3;

/**
 * Runs `start` until a dev server answers, up to TRIES times; `retrying` hears of each
 * server that exited before it answered (then another try follows). Any other error
 * ends the tries at once.
 */
async function untilOneAnswers(start: () => Promise<TemporalDevServer>, retrying: (err: DevServerExited, attempt: number) => void): Promise<TemporalDevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof DevServerExited) || attempt === TRIES) throw err;
      retrying(err, attempt);
    }
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
 * (restartTemporalDevServer).
 */
export async function startTemporalDevServerOnFreePort(dbFile?: string, opts: { nice?: number } = {}): Promise<TemporalDevServer> {
  const fresh = dbFile !== undefined && !existsSync(dbFile);
  let port = 0;
  return untilOneAnswers(
    async () => {
      port = await freePort();
      return startTemporalDevServer(port, dbFile, opts);
    },
    (err, attempt) => {
      console.warn(`${err.message} on port ${port} (try ${attempt} of ${TRIES}; its log above says why); trying another port`);
      // SQLite's journal files beside the database go with it.
      if (fresh) for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${dbFile}${suffix}`, { force: true });
    },
  );
}

/**
 * Starts the dev server again on the port and database file of one that was stopped
 * (its clients and its stored cluster metadata know that port), trying up to three
 * times: one of the ports it picks for its internal services as it starts can be the
 * very port its predecessor has just released, and the next try picks others.
 */
export function restartTemporalDevServer(stopped: Pick<TemporalDevServer, 'port'>, dbFile: string): Promise<TemporalDevServer> {
  return untilOneAnswers(
    () => startTemporalDevServer(stopped.port, dbFile),
    (err, attempt) => console.warn(`${err.message} on port ${stopped.port} (try ${attempt} of ${TRIES}; its log above says why); trying the same port again`),
  );
}

/**
 * Starts `temporal server start-dev` on a loopback port and waits until it answers.
 * With `dbFile` its state survives a stop and a restart on the same port; with `nice`
 * it runs at that lower CPU priority (as `npm start` runs it beside the API).
 */
async function startTemporalDevServer(port: number, dbFile?: string, opts: { nice?: number } = {}): Promise<TemporalDevServer> {
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
      try {
        // With a deadline: whatever else holds the port may take the call and never answer
        // it, and the loop must come round to see that this server has exited.
        await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
      } finally {
        await connection.close();
      }
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
