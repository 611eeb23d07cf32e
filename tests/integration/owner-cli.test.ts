import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../db/audit';
import { createSession } from '../../db/sessions';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';

const root = path.resolve(__dirname, '../..');

interface Printed {
  workspaceId: string;
  userId: string;
  email: string;
  userCreated: boolean;
  password: string | null;
  token: string | null;
  tokenId: string | null;
}

describe('npm run access -- owner create (the first-run command)', () => {
  const keySpec = generateKeySpec();
  const keyring = parseKeyring(keySpec);
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const ws = 'ws_first_run';

  /** Runs the command as a person would, in a child process, with `stdin` piped in. */
  const run = (args: string[], stdin = '') =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/access.ts', ...args], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: database.url, WYSERA_ENCRYPTION_KEYS: keySpec },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin);
    });
  const login = async (email: string, password: string) =>
    (await fetch(`${api.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })).status;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'First run', webhookSecret: 'whsec_f' });
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  let first: Printed;

  it('creates the owner and prints a generated password and an owner API token, both working', async () => {
    const res = await run(['owner', 'create', '--workspace', ws, '--email', 'Founder@First-Run.example']);
    expect(res.code, res.stderr).toBe(0);
    first = JSON.parse(res.stdout) as Printed;
    expect(first).toMatchObject({ workspaceId: ws, email: 'Founder@First-Run.example', userCreated: true, userId: expect.stringMatching(/^usr_/) as unknown });
    expect(first.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(first.token).toMatch(/^wys_/);
    expect(res.stderr).toContain(`password (shown once, keep it): ${first.password}`);

    expect(await login('founder@first-run.example', first.password!)).toBe(200);
    expect((await api.request('GET', `/workspaces/${ws}/members`, { token: first.token! })).body).toEqual({
      members: [expect.objectContaining({ userId: first.userId, email: 'Founder@First-Run.example', role: 'owner', addedBy: 'cli' })],
    });
    const audit = await listAudit(database.db, ws, { actor: 'cli' });
    expect(audit.map((e) => e.action).sort()).toEqual(['member.added', 'token.created']);
  });

  it('run again, keeps the user and the password, promotes them back to owner, and issues another token', async () => {
    await database.db('workspace_members').where({ workspace_id: ws, user_id: first.userId }).update({ role: 'viewer' });
    const res = await run(['owner', 'create', '--workspace', ws, '--email', 'founder@first-run.example']);
    expect(res.code, res.stderr).toBe(0);
    const again = JSON.parse(res.stdout) as Printed;
    expect(again).toMatchObject({ userId: first.userId, userCreated: false, password: null });
    expect(again.token).not.toBe(first.token);
    expect(res.stderr).toContain('password: unchanged (existing user)');
    expect(await database.db('workspace_members').where({ workspace_id: ws, user_id: first.userId }).first('role')).toEqual({ role: 'owner' });
    expect(await login('founder@first-run.example', first.password!)).toBe(200);
  });

  it('takes the password from stdin with --password-stdin (ending the old sessions), and can skip the token', async () => {
    const before = await createSession(database.db, first.userId);
    expect((await api.request('GET', '/auth/session', { headers: { cookie: `wysera_session=${before.token}` } })).status).toBe(200);
    const res = await run(['owner', 'create', '--workspace', ws, '--email', 'founder@first-run.example', '--password-stdin', '--no-token'], 'a chosen passphrase 42\n');
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ userId: first.userId, password: null, token: null });
    expect(res.stdout).not.toContain('a chosen passphrase');
    expect(await login('founder@first-run.example', 'a chosen passphrase 42')).toBe(200);
    expect(await login('founder@first-run.example', first.password!)).toBe(401);
    expect((await api.request('GET', '/auth/session', { headers: { cookie: `wysera_session=${before.token}` } })).status).toBe(401);
  });

  it('refuses an unknown workspace, a bad email and a short password, saying why', async () => {
    const unknown = await run(['owner', 'create', '--workspace', 'ws_nope', '--email', 'x@first-run.example']);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([2, 'no workspace ws_nope']);
    const badEmail = await run(['owner', 'create', '--workspace', ws, '--email', 'not-an-email']);
    expect(badEmail.code).toBe(1);
    expect(badEmail.stderr).toContain('--email must be an email address');
    const short = await run(['owner', 'create', '--workspace', ws, '--email', 'y@first-run.example', '--password-stdin'], 'short\n');
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('the password on stdin must be at least 12 characters');
    expect(await database.db('users').count<{ count: string }[]>('* as count')).toEqual([{ count: 1 }]);
  });
});
