import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDb, type Knex } from '../../db/knex';
import { migrationConfig, pendingMigrations } from '../../db/migrations';
import { generateKeySpec } from '../../platform/crypto';
import { uniqueTaskQueue } from '../helpers/temporal';

interface LogLine {
  msg: string;
  err?: string;
}

/**
 * A worker started before the API has migrated the database (as in a deploy that
 * starts both at once) waits for the schema, saying what is missing, and runs once the
 * migrations are in: it never writes to a schema older than its code.
 */
describe('a worker started before the migrations', () => {
  const admin = createDb(inject('pgAdminUrl'), 1);
  const name = `wysera_test_unmigrated_${randomBytes(6).toString('hex')}`;
  let db: Knex | undefined;

  afterAll(async () => {
    await db?.destroy();
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  });

  it('waits, naming the migrations not applied, and runs once they are', async () => {
    await admin.raw(`create database ${name} template template0`);
    const url = inject('pgAdminUrl').replace(/\/postgres$/, `/${name}`);
    db = createDb(url, 2);
    const worker = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: path.resolve(__dirname, '../..'),
      env: {
        ...process.env,
        DATABASE_URL: url,
        WYSERA_ENCRYPTION_KEYS: generateKeySpec(),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: uniqueTaskQueue('unmigrated'),
        WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    const lines: LogLine[] = [];
    let partial = '';
    worker.stdout.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
    });
    /** Resolves with the first log line `matches` finds, however long it takes; fails if the worker exits first. */
    const logged = (matches: (l: LogLine) => boolean, timeoutMs: number) =>
      new Promise<LogLine>((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const look = () => {
          const found = lines.find(matches);
          if (found) return resolve(found);
          if (worker.exitCode !== null) return reject(new Error(`the worker exited (${worker.exitCode}); it logged: ${lines.map((l) => l.msg).join(' | ')}`));
          if (Date.now() > deadline) return reject(new Error(`not logged within ${timeoutMs} ms; the worker logged: ${lines.map((l) => l.msg).join(' | ')}`));
          setTimeout(look, 100);
        };
        look();
      });
    try {
      const waiting = await logged((l) => l.msg === 'waiting for the database schema', 60_000);
      const all = await pendingMigrations(db);
      expect(all[0]).toBe('001_core_schema');
      expect(waiting.err).toBe(`migrations not applied yet: ${all.join(', ')} (npm run migrate, or start the API)`);
      // Still waiting a while later: nothing of the worker's has started.
      await new Promise((r) => setTimeout(r, 1500));
      expect(lines.some((l) => l.msg === 'worker running')).toBe(false);
      expect(lines.filter((l) => l.msg === 'waiting for the database schema').length).toBeGreaterThanOrEqual(2);
      expect(await db.schema.hasTable('webhook_inbox')).toBe(false);

      await db.migrate.latest(migrationConfig);
      await logged((l) => l.msg === 'worker running', 60_000);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
