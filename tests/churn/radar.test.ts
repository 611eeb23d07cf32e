import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChurnSave, listChurnSaves, openChurnSaves, type ChurnSave } from '../../db/churn-saves';
import { findStepDraft, type Draft } from '../../db/drafts';
import { replaceOverrides } from '../../db/product-mapping';
import { storeRedactionSetting } from '../../db/redaction';
import type { ChurnSaveFacts } from '../../domain/churn-save';
import { createMetrics } from '../../platform/metrics';
import type { EmailReceiver } from '../../sim/email-receiver';
import { scanChurnRadar, type ChurnRadarDeps } from '../../activities/churn-radar';
import { seedMirror } from '../../db/analytics-seed';
import { startChurnRadar } from '../../workers/play-scans';
import { churnSaveStateQuery } from '../../workflows/play-messages';
import { CustomerBuilder } from '../domain/mrr-builder';
import type { TestApi } from '../helpers/api';
import { startPlayHarness, type PlayHarness } from '../helpers/play-harness';
import type { Db } from '../../db/knex';
import { seedAtRisk } from './fixtures';
import { eventually, type DevServer } from '../helpers/temporal';

const DAY = 86_400_000;

/**
 * The churn radar end to end: customers at risk in a real Postgres mirror, the radar's
 * scan, save workflows on the Temporal dev server with the real activities, review
 * through the API and email through the local SendGrid-compatible receiver.
 */
describe('churn radar', () => {
  const ws = 'ws_churn';
  let h: PlayHarness;
  let database: { db: Db };
  let temporal: DevServer;
  let receiver: EmailReceiver;
  let api: TestApi;
  let radar: ChurnRadarDeps;
  let owner: string;
  let member: string;
  let viewer: string;
  const ago = (days: number) => new Date(Date.now() - days * DAY);

  beforeAll(async () => {
    h = await startPlayHarness(ws, { fromEmail: 'success@acme.test', seed: (db, keyring) => seedAtRisk(db, keyring, ws) });
    ({ temporal, receiver, api, scan: radar } = h);
    database = { db: h.db };
    ({ owner, member, viewer } = h.tokens);
  });

  afterAll(async () => {
    await h?.close(async () => (await listChurnSaves(h.db, ws, { limit: 100 })).map((s) => s.workflowId));
  });

  /** Each customer's newest save. */
  const saves = async (): Promise<Map<string, ChurnSave>> => {
    const newest = new Map<string, ChurnSave>();
    for (const save of await listChurnSaves(database.db, ws, { limit: 100 })) if (!newest.has(save.customerId)) newest.set(save.customerId, save);
    return newest;
  };
  const draftOf = (save: ChurnSave): Promise<Draft | undefined> => findStepDraft(database.db, save.workflowId, 'save');
  const setPlay = async (mode: string, config: object = {}) => {
    const res = await api.request('PUT', `/workspaces/${ws}/plays/churn/settings`, { token: owner, body: { mode, config } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };

  it('refuses settings out of range, naming the field, and keeps the ones stored', async () => {
    await setPlay('review', { threshold: 50, successCallUrl: 'https://cal.acme.test/success' });
    const bad = await api.request('PUT', `/workspaces/${ws}/plays/churn/settings`, { token: owner, body: { mode: 'auto', config: { threshold: 0, cooldownDays: 30 } } });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { message: string } }).error.message).toBe('invalid config: threshold: Too small: expected number to be >=1');
    const now = await api.request('GET', `/workspaces/${ws}/plays/churn/settings`, { token: viewer });
    expect(now.body).toMatchObject({ mode: 'review', config: { threshold: 50, cooldownDays: 30, creditPercent: 20, successCallUrl: 'https://cal.acme.test/success' } });
  });

  it('drafts a save with the intervention the reasons call for, for each customer at the threshold', async () => {
    const scan = await scanChurnRadar(radar, new Date(), [ws]);
    // cus_failing is at risk too, but in dunning.
    expect(scan).toEqual({ workspaces: 1, failed: 0, atRisk: 4, opened: 3, started: 3, swept: 0 });
    const opened = await saves();
    expect([...opened.keys()].sort()).toEqual(['cus_drifting', 'cus_leaving', 'cus_troubled']);
    for (const save of opened.values()) {
      await eventually(() => temporal.client.workflow.getHandle(save.workflowId).query(churnSaveStateQuery), (s) => s.phase === 'waiting_for_review');
    }
    const drafts = new Map(await Promise.all([...opened].map(async ([id, save]) => [id, (await draftOf(save))!] as const)));
    const leaving = drafts.get('cus_leaving')!;
    expect(leaving).toMatchObject({ status: 'drafted', play: 'churn', templateKey: 'downgrade', toAddress: 'cus_leaving@example.com' });
    expect(leaving.bodyText).toContain('Hi Lee Leaving');
    expect(leaving.bodyText).toContain('Starter costs $29.00 per month instead of $99.00');
    expect((leaving.facts as unknown as ChurnSaveFacts).risk.reasons.map((r) => r.code)).toEqual(['cancellation_scheduled']);
    const troubled = drafts.get('cus_troubled')!;
    expect(troubled.templateKey).toBe('credits');
    // 20% of $99.00, rounded to a whole dollar.
    expect(troubled.subject).toBe('$20.00 of Acme Analytics credit, on us');
    const drifting = drafts.get('cus_drifting')!;
    // On the cheapest plan there is nothing to step down to: a call, at the workspace's booking address.
    expect(drifting.templateKey).toBe('success_call');
    expect(drifting.bodyHtml).toContain('href="https://cal.acme.test/success"');
    expect(drifting.bodyText).toContain('100 reports generated in the last 30 days');
    expect((await saves()).get('cus_leaving')!.intervention).toBe('downgrade');
  });

  it("hides the usage a draft cites from a role the workspace hides the product's activity from", async () => {
    const drifting = (await draftOf((await saves()).get('cus_drifting')!))!;
    const read = async (token: string) => ((await api.request('GET', `/workspaces/${ws}/drafts/${drifting.id}`, { token })).body as { draft: { bodyText: string; bodyHtml: string; facts: { usage: unknown } } }).draft;
    await storeRedactionSetting(database.db, ws, { fields: ['activity'], visibleTo: 'finance' });
    try {
      const hidden = await read(member);
      expect(hidden.bodyText).toContain('For reference: [hidden].');
      expect(hidden.bodyHtml).not.toContain('reports generated');
      expect(hidden.facts.usage).toBeNull();
      expect((await read(owner)).bodyText).toContain('For reference: 100 reports generated in the last 30 days.');
      // An edit made from the hidden view must not send the placeholder to the customer.
      const edit = await api.request('POST', `/workspaces/${ws}/drafts/${drifting.id}/edit`, { token: member, body: { bodyText: hidden.bodyText } });
      expect(edit.status).toBe(400);
      expect((edit.body as { error: { message: string } }).error.message).toContain('still contains "[hidden]"');
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
  });

  it('sends an approved save once, and ends a discarded one', async () => {
    const opened = await saves();
    const leaving = (await draftOf(opened.get('cus_leaving')!))!;
    expect((await api.request('POST', `/workspaces/${ws}/drafts/${leaving.id}/approve`, { token: member })).status).toBe(200);
    await eventually(saves, (s) => s.get('cus_leaving')!.outcome === 'sent');
    const mail = receiver.messages.filter((m) => m.idempotencyKey === `draft:${leaving.id}`);
    expect(mail).toHaveLength(1);
    expect(mail[0]!.to).toEqual(['cus_leaving@example.com']);
    expect((await draftOf(opened.get('cus_leaving')!))!.status).toBe('sent');
    // The customer's page tells of it.
    const profile = (await api.request('GET', `/workspaces/${ws}/customers/cus_leaving`, { token: viewer })).body as { saves: object[] };
    expect(profile.saves).toMatchObject([{ risk: { score: 50 }, intervention: 'downgrade', outcome: 'sent' }]);
    // Where the workspace hides the risk from a role, the score that started a save is hidden with it.
    await storeRedactionSetting(database.db, ws, { fields: ['risk'], visibleTo: 'finance' });
    try {
      const hidden = (await api.request('GET', `/workspaces/${ws}/customers/cus_leaving`, { token: viewer })).body as { saves: object[] };
      expect(hidden.saves).toMatchObject([{ risk: null, intervention: 'downgrade', outcome: 'sent' }]);
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }

    const troubled = (await draftOf(opened.get('cus_troubled')!))!;
    expect((await api.request('POST', `/workspaces/${ws}/drafts/${troubled.id}/discard`, { token: member, body: { reason: 'account manager calling instead' } })).status).toBe(200);
    await eventually(saves, (s) => s.get('cus_troubled')!.outcome === 'discarded');
    expect(receiver.messages.some((m) => m.idempotencyKey === `draft:${troubled.id}`)).toBe(false);
  });

  it('opens no second save while one is open or the customer cools down, and again after the cooldown', async () => {
    await setPlay('review', { threshold: 50, cooldownDays: 7, successCallUrl: 'https://cal.acme.test/success' });
    const again = await scanChurnRadar(radar, new Date(), [ws]);
    expect(again).toMatchObject({ atRisk: 4, opened: 0, started: 0 });
    expect((await listChurnSaves(database.db, ws, { limit: 100 })).length).toBe(3);
    // Six days on, the sent and the discarded save still cool their customers down.
    expect((await scanChurnRadar(radar, new Date(Date.now() + 6 * DAY), [ws])).opened).toBe(0);
    // Eight days on they have cooled down; cus_drifting's is still open.
    const later = await scanChurnRadar(radar, new Date(Date.now() + 8 * DAY), [ws]);
    expect(later).toMatchObject({ opened: 2, started: 2 });
    const all = await listChurnSaves(database.db, ws, { limit: 100 });
    expect(all.filter((s) => s.customerId === 'cus_leaving')).toHaveLength(2);
    expect(all.filter((s) => s.customerId === 'cus_drifting')).toHaveLength(1);
  });

  it('cancels the waiting drafts when the play is turned off', async () => {
    const mailBefore = receiver.messages.length;
    const waiting = (await listChurnSaves(database.db, ws, { limit: 100 })).filter((s) => s.outcome === null);
    expect(waiting.map((s) => s.customerId).sort()).toEqual(['cus_drifting', 'cus_leaving', 'cus_troubled']);
    for (const save of waiting) await eventually(() => draftOf(save), (d) => d?.status === 'drafted');
    await setPlay('off');
    await eventually(() => listChurnSaves(database.db, ws, { limit: 100 }), (all) => all.every((save) => save.outcome !== null), 30_000);
    for (const save of waiting) {
      expect((await findChurnSave(database.db, save.id))!.outcome).toBe('off');
      expect((await draftOf(save))!.status).toBe('cancelled');
    }
    expect(receiver.messages.length).toBe(mailBefore);
    // A save a radar opened just as the play went off, before it could start the workflow: nothing else would end it.
    const [orphan] = await openChurnSaves(database.db, ws, [{ customerId: 'cus_orphan', score: 30, reasons: [] }], { threshold: 25, cooldownDays: 30, now: new Date() });
    expect(await scanChurnRadar(radar, new Date(), [ws])).toEqual({ workspaces: 0, failed: 0, atRisk: 0, opened: 0, started: 0, swept: 1 });
    expect((await findChurnSave(database.db, orphan!.id))!.outcome).toBe('off');
    const refused = await api.request('POST', `/workspaces/${ws}/churn-radar/scan`, { token: owner });
    expect(refused.status).toBe(409);
    expect((refused.body as { error: { message: string } }).error.message).toContain('the churn radar is off in this workspace');
  });

  it('sends at once in auto mode, and lists the saves with their reasons for any role', async () => {
    await setPlay('auto', { threshold: 15 });
    // cus_calm's NPS answer of 2 (10) and a contraction (15) reach the lower threshold.
    await database.db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_calm', score: 2, at: ago(1) });
    await database.db('analytics_movements').insert({ workspace_id: ws, customer_id: 'cus_calm', at: ago(5), kind: 'contraction', amount: -2000, mrr_before: 11900, mrr_after: 9900, currency: 'usd' });
    // An owner asks for a look now rather than at the next hourly scan.
    expect((await api.request('POST', `/workspaces/${ws}/churn-radar/scan`, { token: member })).status).toBe(403);
    const scan = await api.request('POST', `/workspaces/${ws}/churn-radar/scan`, { token: owner });
    // Five reach the lower threshold: cus_calm, and cus_drifting again, whose last save the
    // play's switch-off ended before it reached them; the others cool down or are in dunning.
    expect(scan.body).toEqual({ atRisk: 5, opened: 2, started: 2, swept: 0 });
    await eventually(saves, (s) => s.get('cus_calm')?.outcome === 'sent');
    const calm = (await saves()).get('cus_calm')!;
    const draft = (await draftOf(calm))!;
    expect(draft.templateKey).toBe('downgrade');
    expect(receiver.messages.filter((m) => m.idempotencyKey === `draft:${draft.id}`)).toHaveLength(1);

    const listed = await api.request('GET', `/workspaces/${ws}/churn-saves?customerId=cus_calm`, { token: viewer });
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ saves: [{ customerId: 'cus_calm', name: 'Cal Calm', email: 'cus_calm@example.com', intervention: 'downgrade', outcome: 'sent', threshold: 15, risk: { score: 25, level: 'medium' } }] });
    // A workspace hiding NPS answers below finance: the viewer reads that reason's points, not its words.
    await storeRedactionSetting(database.db, ws, { fields: ['nps'], visibleTo: 'finance' });
    try {
      const reasons = async (token: string, path: string, pick: (body: unknown) => { code: string; text: string; points: number }[]) => pick((await api.request('GET', path, { token })).body);
      const fromSaves = (b: unknown) => (b as { saves: { risk: { reasons: { code: string; text: string; points: number }[] } }[] }).saves[0]!.risk.reasons;
      const fromDraft = (b: unknown) => (b as { draft: { facts: { risk: { reasons: { code: string; text: string; points: number }[] } } } }).draft.facts.risk.reasons;
      const hidden = [{ code: 'contracted', points: 15 }, { code: 'hidden', points: 10, text: 'Reasons hidden for your role' }];
      expect(await reasons(viewer, `/workspaces/${ws}/churn-saves?customerId=cus_calm`, fromSaves)).toMatchObject(hidden);
      expect(await reasons(viewer, `/workspaces/${ws}/drafts/${draft.id}`, fromDraft)).toMatchObject(hidden);
      expect((await reasons(owner, `/workspaces/${ws}/drafts/${draft.id}`, fromDraft)).map((r) => r.code)).toEqual(['contracted', 'nps_detractor']);
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
    const bad = await api.request('GET', `/workspaces/${ws}/churn-saves?limit=0`, { token: viewer });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('limit');
  });

  it("takes a workspace's own save templates, refusing one that cites the score", async () => {
    const listed = await api.request('GET', `/workspaces/${ws}/templates/churn`, { token: viewer });
    expect((listed.body as { templates: { key: string; overridden: boolean }[] }).templates.map((t) => [t.key, t.overridden])).toEqual([['downgrade', false], ['success_call', false], ['credits', false]]);
    const scored = await api.request('PUT', `/workspaces/${ws}/templates/churn/credits`, { token: owner, body: { subject: 'Credit', html: '<p>{{ risk.score }}</p>', text: 'Your risk: {{ risk.score }}' } });
    expect(scored.status).toBe(400);
    expect((scored.body as { error: { message: string } }).error.message).toMatch(/^invalid template: html line 1/);
    const unknownKey = await api.request('PUT', `/workspaces/${ws}/templates/churn/friendly`, { token: owner, body: { subject: 's', html: 'h', text: 't' } });
    expect(unknownKey.status).toBe(400);
    const own = { subject: '{{ intervention.credit | money }} for you, {{ customer.name }}', html: '<p>{{ intervention.credit | money }} of credit</p>', text: '{{ intervention.credit | money }} of credit' };
    expect((await api.request('PUT', `/workspaces/${ws}/templates/churn/credits`, { token: owner, body: own })).status).toBe(200);
    expect((await api.request('DELETE', `/workspaces/${ws}/templates/churn/credits`, { token: owner })).body).toMatchObject({ play: 'churn', key: 'credits' });
    // A preview renders one for an imaginary customer offered that, with the workspace's name.
    const preview = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { play: 'churn', templateKey: 'success_call', template: { subject: 'A call, {{ customer.name }}?', html: '<p>{{ intervention.bookingUrl }}</p>', text: 'Book: {{ intervention.bookingUrl }}' } } });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ to: 'jordan@example.com', subject: 'A call, Jordan Example?', text: 'Book: https://cal.example.com/acme/success' });
    expect((preview.body as { facts: object }).facts).not.toHaveProperty('risk');
    const builtIn = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { play: 'churn', templateKey: 'downgrade' } });
    expect((builtIn.body as { subject: string }).subject).toBe('A plan that fits how you use Acme Analytics');
    const wrongKey = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { play: 'churn', templateKey: 'friendly' } });
    expect(wrongKey.status).toBe(400);
    expect((wrongKey.body as { error: { message: string } }).error.message).toMatch(/^invalid body: templateKey: /);
    const noPlay = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { templateKey: 'credits' } });
    expect((noPlay.body as { error: { message: string } }).error.message).toMatch(/dunning, churn, expansion or renewal/);

  });

  it("runs on the worker's schedule, counting its scans and the saves they open", async () => {
    // A new customer set to cancel, who reaches the threshold of 15 left by the test before.
    await seedMirror(database.db, ws, [new CustomerBuilder('cus_late').price('price_growth', 9900).subscription('sub_cus_late', { items: ['price_growth'], cancel_at_period_end: true, current_period_end: ago(-20) }).build()]);
    const metrics = createMetrics({ processMetrics: false });
    const loop = startChurnRadar({ ...radar, metrics, firstRunAfterMs: 0, everyMs: 3_600_000 });
    try {
      await eventually(async () => (await metrics.churnRadarScans.get()).values, (v) => v.some((x) => x.labels.outcome === 'done' && x.value === 1));
    } finally {
      await loop.stop();
    }
    expect((await metrics.churnSavesOpened.get()).values[0]!.value).toBe(1);
    expect((await saves()).get('cus_late')).toBeDefined();
  });

  it('closes a save whose workflow is gone, a day after its review window, so the customer is not blocked for good', async () => {
    const [lost] = await openChurnSaves(database.db, ws, [{ customerId: 'cus_ghost', score: 60, reasons: [] }], { threshold: 15, cooldownDays: 30, now: new Date() });
    // Marked started nine days ago, but no such workflow runs (an operator terminated it, say).
    await database.db('churn_saves').where({ id: lost!.id }).update({ workflow_started_at: ago(9) });
    const scan = await scanChurnRadar(radar, new Date(), [ws]);
    expect(scan.swept).toBe(1);
    expect((await findChurnSave(database.db, lost!.id))!.outcome).toBe('lost');
    // Within the window a save is left alone however quiet it is.
    const [recent] = await openChurnSaves(database.db, ws, [{ customerId: 'cus_ghost', score: 60, reasons: [] }], { threshold: 15, cooldownDays: 30, now: new Date() });
    await database.db('churn_saves').where({ id: recent!.id }).update({ workflow_started_at: ago(6) });
    expect((await scanChurnRadar(radar, new Date(), [ws])).swept).toBe(0);
    expect((await findChurnSave(database.db, recent!.id))!.outcome).toBeNull();
  });

  it("shows on a customer's page their use against their plan's limits, near the limit from 80%", async () => {
    // Starter includes 120 reports a month; cus_drifting generated 100 in the last 30 days.
    await replaceOverrides(database.db, ws, [{ productId: 'prod_price_starter', planName: 'Starter', tierRank: 1, limits: { reports_generated: 120, api_calls: null } }], 'test');
    const profile = (await api.request('GET', `/workspaces/${ws}/customers/cus_drifting`, { token: viewer })).body as { activity: { limits: unknown } };
    expect(profile.activity.limits).toEqual({ plan: 'Starter', usage: [{ metric: 'reports_generated', label: 'reports generated', used: 100, included: 120, share: 100 / 120, near: true, past: false }] });
    // Growth has no limits in the mapping: nothing to show.
    expect(((await api.request('GET', `/workspaces/${ws}/customers/cus_calm`, { token: viewer })).body as { activity: { limits: unknown } }).activity.limits).toBeNull();
    // Where the workspace hides the product's activity, or only its usage, the counts go with it.
    await storeRedactionSetting(database.db, ws, { fields: ['activity'], visibleTo: 'finance' });
    try {
      expect(((await api.request('GET', `/workspaces/${ws}/customers/cus_drifting`, { token: viewer })).body as { activity: unknown }).activity).toBeNull();
      await storeRedactionSetting(database.db, ws, { fields: ['usage'], visibleTo: 'finance' });
      const limits = ((await api.request('GET', `/workspaces/${ws}/customers/cus_drifting`, { token: viewer })).body as { activity: { limits: { plan: string; usage: unknown } } }).activity.limits;
      expect(limits).toEqual({ plan: 'Starter', usage: null });
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
      await replaceOverrides(database.db, ws, [], 'test');
    }
  });
});
