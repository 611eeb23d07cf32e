import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPlayEmail } from '../../activities/drafts';
import type { Knex } from '../../db/knex';
import { putTemplateOverride } from '../../db/play-settings';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import { DEFAULT_RENEWAL_TEMPLATES, exampleRenewalFacts, type RenewalNoteFacts } from '../../domain/renewal';
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

describe('an override printing a fact that is null for this customer', () => {
  const nameless = { ...exampleRenewalFacts('plain'), plan: { ...exampleRenewalFacts('plain').plan, name: null } };
  const render = (facts: RenewalNoteFacts) => renderPlayEmail(db, log, { workspaceId: ws, play: 'renewal', templateKey: 'plain', builtIn: DEFAULT_RENEWAL_TEMPLATES.plain, facts });

  it('gives way to the built-in note, which says "your plan", rather than send "Your  plan"', async () => {
    await putTemplateOverride(db, ws, 'renewal', 'plain', { subject: 'Your {{ plan.name }} plan renews', html: '<p>Your {{ plan.name }} plan renews soon.</p>', text: 'Your {{ plan.name }} plan renews soon.' }, 'test');
    // Named, the override is used; nameless, it fails its render and the built-in stands in.
    expect(await render(exampleRenewalFacts('plain'))).toMatchObject({ usedOverride: true, subject: `Your ${exampleRenewalFacts('plain').plan.name} plan renews` });
    const email = await render(nameless);
    expect(email.usedOverride).toBe(false);
    expect(email.text).toContain('Your plan renews on');
    expect(email.subject).toMatch(/^Your Acme Analytics plan renews on /);
    // The log says why: the fact that was null, where.
    expect(warnings.at(-1)).toBe('template override cannot be rendered with these facts; using the built-in template');
    // Guarded, or with a default, a null prints nothing wrong and the override stands.
    await putTemplateOverride(db, ws, 'renewal', 'plain', { subject: "Your {{ plan.name | default: 'current' }} plan renews", html: '<p>Renews soon.</p>', text: '{% if plan.name %}{{ plan.name }}{% else %}Your plan{% endif %} renews soon.' }, 'test');
    expect(await render(nameless)).toMatchObject({ usedOverride: true, subject: 'Your current plan renews', text: 'Your plan renews soon.' });
  });
});
