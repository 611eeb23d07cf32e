import type { Knex } from 'knex';
import * as m001 from './001_core_schema';
import * as m002 from './002_sync';
import * as m003 from './003_access';
import * as m004 from './004_analytics';
import * as m005 from './005_plays';
import * as m006 from './006_customer_pii';
import * as m007 from './007_users_sessions';
import * as m008 from './008_inbox_customer_index';
import * as m009 from './009_email_provider_keys';
import * as m010 from './010_inbox_failed_invoices';
import * as m011 from './011_inbox_payload_text';
import * as m012 from './012_inbox_failing_index';
import * as m013 from './013_inbox_fillfactor';
import * as m014 from './014_invoice_subscription_backfill';
import * as m015 from './015_mirror_read_until';
import * as m016 from './016_audit_action_index';
import * as m017 from './017_inbox_summary_indexes';
import * as m018 from './018_inbox_requeued_at';
import * as m019 from './019_dunning_steps_sent';
import * as m020 from './020_password_resets';
import * as m021 from './021_product_signals';
import * as m022 from './022_nps_answer_ids';
import * as m023 from './023_product_signals_occurred_at';
import * as m024 from './024_churn_saves';
import * as m025 from './025_expansion_pitches';
import * as m026 from './026_renewal_notes';
import * as m027 from './027_renewal_notes_one_open';
import * as m028 from './028_renewal_notes_reopen_after_off';
import * as m029 from './029_renewal_notes_reopen_after_refold';
import * as m030 from './030_price_tiers_mode';
import * as m031 from './031_customer_discount';
import * as m032 from './032_price_transform_quantity';
import * as m033 from './033_sends_sender_refused';
import * as m034 from './034_workspace_analytics_rules';
import * as m035 from './035_subscription_item_discounts';

/**
 * Migrations are listed here rather than discovered on disk, so the same code runs
 * under tsx, vitest and the compiled build. Append new ones; never edit old ones.
 */
const migrations: Record<string, Knex.Migration> = {
  '001_core_schema': m001,
  '002_sync': m002,
  '003_access': m003,
  '004_analytics': m004,
  '005_plays': m005,
  '006_customer_pii': m006,
  '007_users_sessions': m007,
  '008_inbox_customer_index': m008,
  '009_email_provider_keys': m009,
  '010_inbox_failed_invoices': m010,
  '011_inbox_payload_text': m011,
  '012_inbox_failing_index': m012,
  '013_inbox_fillfactor': m013,
  '014_invoice_subscription_backfill': m014,
  '015_mirror_read_until': m015,
  '016_audit_action_index': m016,
  '017_inbox_summary_indexes': m017,
  '018_inbox_requeued_at': m018,
  '019_dunning_steps_sent': m019,
  '020_password_resets': m020,
  '021_product_signals': m021,
  '022_nps_answer_ids': m022,
  '023_product_signals_occurred_at': m023,
  '024_churn_saves': m024,
  '025_expansion_pitches': m025,
  '026_renewal_notes': m026,
  '027_renewal_notes_one_open': m027,
  '028_renewal_notes_reopen_after_off': m028,
  '029_renewal_notes_reopen_after_refold': m029,
  '030_price_tiers_mode': m030,
  '031_customer_discount': m031,
  '032_price_transform_quantity': m032,
  '033_sends_sender_refused': m033,
  '034_workspace_analytics_rules': m034,
  '035_subscription_item_discounts': m035,
};

export const migrationSource: Knex.MigrationSource<string> = {
  // Applied in name order, whatever order the entries above were added in.
  getMigrations: () => Promise.resolve(Object.keys(migrations).sort()),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const m = migrations[name];
    if (!m) throw new Error(`unknown migration ${name}`);
    return Promise.resolve(m);
  },
};

export const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };

/** The migrations this code knows that the database has not applied yet, in order. */
export async function pendingMigrations(db: Knex): Promise<string[]> {
  // knex lists the pending ones as the source gave them (getMigrations: names).
  const [, pending] = (await db.migrate.list(migrationConfig)) as [unknown, string[]];
  return pending.map((m) => migrationSource.getMigrationName(m));
}
