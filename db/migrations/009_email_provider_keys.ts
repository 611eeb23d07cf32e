import type { Knex } from 'knex';

/**
 * A workspace's own email provider (SendGrid or SES) next to its from-address. The
 * credentials are one sealed value (platform/crypto.ts, db/email-provider.ts); the
 * kind, the SES region and the last four characters of the key stay readable so the
 * settings can be shown without opening anything. The checks refuse plaintext from
 * any writer that forgets to seal, and half-configured providers.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('email_settings', (t) => {
    t.text('provider_kind').nullable();
    t.text('provider_region').nullable();
    t.text('provider_key_hint').nullable();
    t.text('provider_secret_ciphertext').nullable();
  });
  await knex.raw(`alter table email_settings add constraint email_settings_provider_secret_sealed check (provider_secret_ciphertext is null or provider_secret_ciphertext like 'v1.%')`);
  await knex.raw(`alter table email_settings add constraint email_settings_provider_kind check (provider_kind is null or provider_kind in ('sendgrid', 'ses'))`);
  await knex.raw(
    `alter table email_settings add constraint email_settings_provider_complete check (
      (provider_kind is null and provider_secret_ciphertext is null and provider_key_hint is null and provider_region is null)
      or (provider_kind is not null and provider_secret_ciphertext is not null and provider_key_hint is not null
          and (provider_kind <> 'ses' or provider_region is not null)))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table email_settings drop constraint email_settings_provider_secret_sealed, drop constraint email_settings_provider_kind, drop constraint email_settings_provider_complete');
  await knex.schema.alterTable('email_settings', (t) => {
    t.dropColumns('provider_kind', 'provider_region', 'provider_key_hint', 'provider_secret_ciphertext');
  });
}
