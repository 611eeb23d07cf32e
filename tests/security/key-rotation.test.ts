import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { findCustomerContact, findCustomersByEmail } from '../../db/customer-pii';
import { findEmailProvider } from '../../db/email-provider';
import { rotateKeys, staleSealedCounts } from '../../db/key-rotation';
import { upsertCustomers } from '../../db/mirror';
import { putEmailSettings } from '../../db/play-settings';
import { findOrCreateUser, findUserByEmail } from '../../db/users';
import { findWebhookSecret, findWorkspaceStripe, insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring, sealedKeyId } from '../../platform/crypto';
import { freshDatabase } from '../helpers/db';
import { stripeFixture } from '../helpers/stripe';

const root = path.resolve(__dirname, '../..');
const k1 = generateKeySpec('k1');
const k2 = generateKeySpec('k2');
const k3 = generateKeySpec('k3');
const customer = (id: string, email: string, name: string) => ({ ...(stripeFixture('customer') as unknown as Stripe.Customer), id, email, name });

describe('key rotation', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const workspaces = ['ws_rot_a', 'ws_rot_b'];

  beforeAll(async () => {
    database = await freshDatabase();
    const ring1 = parseKeyring(k1);
    for (const ws of workspaces) {
      await insertWorkspace(database.db, ring1, { id: ws, name: ws, stripeKey: `sk_test_${ws}`, webhookSecret: `whsec_${ws.replace(/_/g, '')}` });
      await upsertCustomers(database.db, ws, [1, 2, 3].map((i) => customer(`cus_${i}`, `c${i}@${ws}.example`, `Customer ${i}`)), new Date(), ring1);
    }
    await findOrCreateUser(database.db, ring1, 'Owner@Rotation.example', 'a long enough password');
    await putEmailSettings(database.db, 'ws_rot_a', { fromEmail: 'billing@rot-a.example', fromName: null, replyTo: null, provider: { kind: 'sendgrid', apiKey: 'SG.rotation-key-a' } }, 'user:test', ring1);
    await putEmailSettings(database.db, 'ws_rot_b', { fromEmail: 'billing@rot-b.example', fromName: null, replyTo: null }, 'user:test', ring1);
  });

  afterAll(async () => {
    await database?.drop();
  });

  const readEverything = async (spec: string) => {
    const ring = parseKeyring(spec);
    const out: unknown[] = [];
    for (const ws of workspaces) {
      out.push((await findWorkspaceStripe(database.db, ring, ws))?.apiKey, await findWebhookSecret(database.db, ring, ws));
      for (const i of [1, 2, 3]) out.push(await findCustomerContact(database.db, ring, ws, `cus_${i}`));
      out.push((await findCustomersByEmail(database.db, ring, ws, `C2@${ws}.example`)).map((c) => c.id));
      out.push(await findEmailProvider(database.db, ring, ws));
    }
    out.push((await findUserByEmail(database.db, ring, 'owner@rotation.EXAMPLE'))?.email);
    return out;
  };

  it('re-seals everything under k1 with k2 in batches; then the ring with k2 alone opens and finds it all', async () => {
    const expected = await readEverything(k1);
    expect(expected).toContain('sk_test_ws_rot_a');
    expect(expected).toContain('Owner@Rotation.example');
    expect(expected).toContainEqual({ kind: 'sendgrid', apiKey: 'SG.rotation-key-a' });
    await expect(readEverything(k2)).rejects.toThrow(/k1/);

    const ring = parseKeyring(`${k2},${k1}`);
    // During the rotation (the new ring deployed, nothing re-sealed yet) readers see everything.
    expect(await readEverything(`${k2},${k1}`)).toEqual(expected);
    expect(await staleSealedCounts(database.db, ring)).toEqual({ workspaces: 2, email_settings: 1, stripe_customers: 6, users: 1 });

    const batches: number[] = [];
    const report = await rotateKeys(database.db, ring, { batchSize: 4, actor: 'test', onBatch: (_t, n) => batches.push(n) });
    expect(report).toEqual({ activeKeyId: 'k2', resealed: { workspaces: 2, email_settings: 1, stripe_customers: 6, users: 1 } });
    expect(batches).toEqual([2, 1, 4, 2, 1]);
    expect(await staleSealedCounts(database.db, ring)).toEqual({ workspaces: 0, email_settings: 0, stripe_customers: 0, users: 0 });

    expect(await readEverything(k2)).toEqual(expected);
    const raw = await database.db('stripe_customers').select('email', 'name', 'email_hash');
    expect(new Set(raw.flatMap((r: { email: string; name: string; email_hash: string }) => [sealedKeyId(r.email), sealedKeyId(r.name), r.email_hash.split('.')[0]]))).toEqual(new Set(['k2']));
    const settings = await database.db('email_settings').whereNotNull('provider_secret_ciphertext').select('provider_secret_ciphertext');
    expect(settings.map((r: { provider_secret_ciphertext: string }) => sealedKeyId(r.provider_secret_ciphertext))).toEqual(['k2']);
    const users = await database.db('users').select('email', 'email_hash');
    expect(users.flatMap((r: { email: string; email_hash: string }) => [sealedKeyId(r.email), r.email_hash.split('.')[0]])).toEqual(['k2', 'k2']);

    const [entry] = await listAuditGlobal();
    expect(entry).toMatchObject({ actor: 'test', action: 'keys.rotated', targetId: 'k2', after: { resealed: { workspaces: 2, email_settings: 1, stripe_customers: 6, users: 1 } } });
    // A second run finds nothing left to do.
    expect((await rotateKeys(database.db, ring)).resealed).toEqual({ workspaces: 0, email_settings: 0, stripe_customers: 0, users: 0 });
  });

  it('npm run access -- keys rotate does the same from the shell', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/access.ts', 'keys', 'rotate', '--batch', '5'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: database.url, WYSERA_ENCRYPTION_KEYS: `${k3},${k2}` },
    });
    expect(JSON.parse(stdout)).toEqual({ activeKeyId: 'k3', resealed: { workspaces: 2, email_settings: 1, stripe_customers: 6, users: 1 } });
    expect(await readEverything(k3)).toContainEqual({ kind: 'sendgrid', apiKey: 'SG.rotation-key-a' });
  }, 60_000);

  const listAuditGlobal = () => database.db('audit_log').whereNull('workspace_id').orderBy('id', 'desc').select<{ actor: string; action: string; targetId: string; after: unknown }[]>('actor', 'action', 'target_id as targetId', 'after');
});
