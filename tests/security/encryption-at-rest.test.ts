import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { findCustomerContact, findCustomersByEmail } from '../../db/customer-pii';
import { findEmailProvider, openProvider } from '../../db/email-provider';
import { upsertCustomers } from '../../db/mirror';
import { putEmailSettings } from '../../db/play-settings';
import { createSession } from '../../db/sessions';
import { findOrCreateUser, findUserByEmail } from '../../db/users';
import { findWebhookSecret, findWorkspaceStripe, insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { freshDatabase } from '../helpers/db';
import { stripeFixture } from '../helpers/stripe';

const STRIPE_KEY = 'sk_test_plaintextNeverStored4242';
const WEBHOOK_SECRET = 'whsec_plaintextNeverStored';
const EMAIL = 'Ada.Lovelace@Example.com';
const NAME = 'Ada Lovelace-Byron';
const USER_EMAIL = 'Grace.Hopper@Wysera-Users.example';
const USER_PASSWORD = 'cobol-and-nanoseconds-1906';
const SENDGRID_KEY = 'SG.plaintextNeverStored.sendgridKey9876';
const SES_SECRET = 'sesSecretPlaintextNeverStored/abc+123';
const SES_ACCESS_KEY = 'AKIAPLAINTEXTNEVERSTORED';

describe('encryption at rest', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const ws = 'ws_at_rest';
  let sessionToken: string;
  const customer = (id: string, over: Partial<Stripe.Customer> = {}) => ({ ...(stripeFixture('customer') as unknown as Stripe.Customer), id, email: EMAIL, name: NAME, ...over });

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'At rest', stripeKey: STRIPE_KEY, webhookSecret: WEBHOOK_SECRET });
    await insertWorkspace(database.db, keyring, { id: 'ws_at_rest_2', name: 'Other', webhookSecret: 'whsec_other' });
    await upsertCustomers(database.db, ws, [customer('cus_ada'), customer('cus_other', { email: 'someone@example.com', name: 'Someone Else' })], new Date(), keyring);
    await upsertCustomers(database.db, 'ws_at_rest_2', [customer('cus_ada')], new Date(), keyring);
    const { user } = await findOrCreateUser(database.db, keyring, USER_EMAIL, USER_PASSWORD);
    sessionToken = (await createSession(database.db, user.id)).token;
    await putEmailSettings(database.db, ws, { fromEmail: 'billing@at-rest.example', fromName: null, replyTo: null, provider: { kind: 'sendgrid', apiKey: SENDGRID_KEY } }, 'user:test', keyring);
    await putEmailSettings(database.db, 'ws_at_rest_2', { fromEmail: 'billing@other.example', fromName: null, replyTo: null, provider: { kind: 'ses', region: 'eu-west-1', accessKeyId: SES_ACCESS_KEY, secretAccessKey: SES_SECRET } }, 'user:test', keyring);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('leaves no plaintext secret, email, name, password, session token or email-provider key in any table', async () => {
    const tables = (await database.db.raw<{ rows: { table_name: string }[] }>(`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`)).rows.map((r) => r.table_name);
    expect(tables).toContain('stripe_customers');
    let dump = '';
    for (const table of tables) dump += JSON.stringify((await database.db.raw<{ rows: unknown[] }>('select row_to_json(t) as r from ?? t', [table])).rows);
    expect(dump).toContain('cus_ada');
    expect(dump).toContain('usr_');
    for (const plaintext of [STRIPE_KEY, WEBHOOK_SECRET, EMAIL, EMAIL.toLowerCase(), NAME, 'someone@example.com', 'Someone Else', 'Lovelace', USER_EMAIL, USER_EMAIL.toLowerCase(), 'Hopper', 'wysera-users', USER_PASSWORD, sessionToken, SENDGRID_KEY, SES_SECRET, SES_ACCESS_KEY]) {
      expect({ plaintext, found: dump.includes(plaintext) }).toEqual({ plaintext, found: false });
    }
  });

  it('opens what it sealed, with the keyring only', async () => {
    expect(await findCustomerContact(database.db, keyring, ws, 'cus_ada')).toEqual({ id: 'cus_ada', email: EMAIL, name: NAME });
    expect((await findWorkspaceStripe(database.db, keyring, ws))?.apiKey).toBe(STRIPE_KEY);
    expect(await findWebhookSecret(database.db, keyring, ws)).toBe(WEBHOOK_SECRET);
    await expect(findCustomerContact(database.db, parseKeyring(generateKeySpec()), ws, 'cus_ada')).rejects.toThrow();
    expect(await findEmailProvider(database.db, keyring, ws)).toEqual({ kind: 'sendgrid', apiKey: SENDGRID_KEY });
    expect(await findEmailProvider(database.db, keyring, 'ws_at_rest_2')).toEqual({ kind: 'ses', region: 'eu-west-1', accessKeyId: SES_ACCESS_KEY, secretAccessKey: SES_SECRET });
    await expect(findEmailProvider(database.db, parseKeyring(generateKeySpec()), ws)).rejects.toThrow();
  });

  it('binds a sealed email-provider key to its workspace, and refuses a plaintext one', async () => {
    const row = await database.db('email_settings').where({ workspace_id: ws }).first<{ provider_secret_ciphertext: string; provider_key_hint: string }>();
    expect(row?.provider_key_hint).toBe('9876');
    expect(() => openProvider(keyring, 'ws_at_rest_2', row.provider_secret_ciphertext)).toThrow();
    await expect(database.db('email_settings').where({ workspace_id: ws }).update({ provider_secret_ciphertext: SENDGRID_KEY })).rejects.toThrow(/email_settings_provider_secret_sealed/);
    await expect(database.db('email_settings').where({ workspace_id: ws }).update({ provider_secret_ciphertext: null })).rejects.toThrow(/email_settings_provider_complete/);
  });

  it('finds customers by email through the keyed hash, case-insensitively and per workspace', async () => {
    expect((await findCustomersByEmail(database.db, keyring, ws, '  ada.lovelace@example.COM ')).map((c) => c.id)).toEqual(['cus_ada']);
    expect((await findCustomersByEmail(database.db, keyring, ws, 'nobody@example.com')).map((c) => c.id)).toEqual([]);
    const [a, b] = await Promise.all([ws, 'ws_at_rest_2'].map((w) => database.db('stripe_customers').where({ workspace_id: w, id: 'cus_ada' }).first<{ email_hash: string }>()));
    // One email in two workspaces hashes apart: the hashes do not link tenants.
    expect(a?.email_hash).not.toBe(b?.email_hash);
  });

  it('binds a sealed value to its customer: copied to another row it does not open', async () => {
    const ada = await database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_ada' }).first<{ email: string }>();
    await database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_other' }).update({ email: ada?.email });
    await expect(findCustomerContact(database.db, keyring, ws, 'cus_other')).rejects.toThrow();
  });

  it('opens a user email and checks its password through the keyed hash, with the keyring only', async () => {
    const user = await findUserByEmail(database.db, keyring, ' grace.hopper@wysera-users.EXAMPLE');
    expect(user?.email).toBe(USER_EMAIL);
    expect(user?.password.params).toEqual({ N: 32768, r: 8, p: 3, keylen: 64 });
    expect(await findUserByEmail(database.db, parseKeyring(generateKeySpec()), USER_EMAIL)).toBeUndefined();
    await expect(database.db('users').update({ email: USER_EMAIL })).rejects.toThrow(/users_email_sealed/);
  });

  it('refuses plaintext email or name from any writer', async () => {
    await expect(database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_ada' }).update({ email: 'plain@example.com' })).rejects.toThrow(/stripe_customers_email_sealed/);
    await expect(database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_ada' }).update({ name: 'Plain Name' })).rejects.toThrow(/stripe_customers_name_sealed/);
  });
});
