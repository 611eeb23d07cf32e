import { loadConfig, ConfigError } from '../platform/config';
import { createLogger } from '../platform/logger';
import { createDb } from './knex';
import { migrationConfig } from './migrations';

/** `npm run migrate [-- down]`: applies (or rolls back the last batch of) migrations. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'migrate');
  const db = createDb(config.DATABASE_URL, 1);
  try {
    if (process.argv[2] === 'down') {
      const [batch, names] = (await db.migrate.rollback(migrationConfig)) as [number, string[]];
      log.info({ batch, rolledBack: names }, 'rolled back');
    } else {
      const [batch, names] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
      log.info({ batch, applied: names }, names.length ? 'migrations applied' : 'schema up to date');
    }
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
