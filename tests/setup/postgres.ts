import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';
import { toolPaths } from './tools';

export interface ThrowawayPostgres {
  /** The folder holding the cluster (its data directory inside), removed on stop. */
  dir: string;
  /** Superuser URL of the maintenance database. */
  adminUrl: string;
  /** URL of another database on the same server. */
  urlOf(database: string): string;
  /** Stops the server but keeps its data, for outage tests. */
  pause(): void;
  /** Starts a paused server again on the same port. */
  resume(): void;
  stop(): Promise<void>;
}

/**
 * A Postgres cluster in a temporary folder on a free loopback port (scripts/pg.sh),
 * removed on stop. Without fsync unless `durable`: tests need no durability, but a
 * benchmark of work whose answer promises it (the webhook ack) must pay for the flush.
 */
export async function startThrowawayPostgres(prefix = 'wysera-pg-', opts: { durable?: boolean } = {}): Promise<ThrowawayPostgres> {
  const { pgScript } = toolPaths();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  // As root, Postgres runs as the postgres user, which must be able to enter this folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const data = path.join(dir, 'pg');
  const env = { ...process.env, WYSERA_PG_FSYNC: opts.durable ? 'on' : 'off' };
  execFileSync('bash', [pgScript, 'start', data, String(port)], { stdio: 'inherit', env });
  const urlOf = (database: string) => `postgres://wysera:wysera@127.0.0.1:${port}/${database}`;
  return {
    dir,
    adminUrl: urlOf('postgres'),
    urlOf,
    pause: () => execFileSync('bash', [pgScript, 'stop', data], { stdio: 'inherit' }),
    resume: () => execFileSync('bash', [pgScript, 'start', data, String(port)], { stdio: 'inherit', env }),
    stop: () => {
      execFileSync('bash', [pgScript, 'stop', data], { stdio: 'inherit' });
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}
