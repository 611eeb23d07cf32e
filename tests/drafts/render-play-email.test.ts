import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPlayEmail } from '../../activities/drafts';
import type { Knex } from '../../db/knex';
import { putTemplateOverride } from '../../db/play-settings';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import { freshDatabase } from '../helpers/db';

const ws = 'ws_render_play_email';
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Knex;
const warnings: string[] = [];
const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _enc, done) => (warnings.push((JSON.parse(chunk.toString()) as { msg: string }).msg), done()) }));

beforeAll(async () => {
  database = await freshDatabase();
  db = database.db;
  await db('workspaces').insert({ id: ws, name: 'Render' });
});
afterAll(async () => {
  await database?.drop();
});

describe("a play's email from the workspace's own template", () => {
  const render = () => renderPlayEmail(db, log, { workspaceId: ws, play: 'dunning', templateKey: 'firm', builtIn: DEFAULT_DUNNING_TEMPLATES.firm, facts: EXAMPLE_DUNNING_FACTS });

  it('takes an override that writes amounts through money', async () => {
    await putTemplateOverride(db, ws, 'dunning', 'firm', { subject: 'Owed: {{ invoice.amountDue | money }}', html: '<p>Pay</p>', text: 'Pay' }, 'test');
    expect(await render()).toMatchObject({ usedOverride: true, subject: 'Owed: $99.00' });
  });

  it('passes over one stored before such were refused that prints an amount bare, which drafts could not hide', async () => {
    await putTemplateOverride(db, ws, 'dunning', 'firm', { subject: 'Owed: {{ invoice.amountDue.amount }}', html: '<p>Pay</p>', text: 'Pay' }, 'test');
    const email = await render();
    expect(email.usedOverride).toBe(false);
    expect(email.subject).not.toContain('9900');
    expect(warnings.at(-1)).toMatch(/may print an amount other than through money/);
  });
});
