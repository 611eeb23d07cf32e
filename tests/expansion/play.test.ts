import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { scanExpansion } from '../../activities/expansion';
import type { OutreachScanDeps } from '../../activities/outreach-scan';
import { openChurnSaves } from '../../db/churn-saves';
import { findStepDraft, type Draft } from '../../db/drafts';
import { openDunningCase } from '../../db/dunning-cases';
import { expansionPitchRows, type ExpansionPitch } from '../../db/expansion-pitches';
import { upsertCustomers, upsertSubscriptions } from '../../db/mirror';
import { storeProductSignals } from '../../db/product-signals';
import { storeRedactionSetting } from '../../db/redaction';
import { seedMirror } from '../../db/analytics-seed';
import { seatsAddedSince } from '../../db/seat-changes';
import type { ExpansionPitchFacts } from '../../domain/expansion';
import type { EmailReceiver } from '../../sim/email-receiver';
import { expansionPitchStateQuery, playSettingsChangedSignal } from '../../workflows/play-messages';
import type { TestApi } from '../helpers/api';
import { startPlayHarness, type PlayHarness } from '../helpers/play-harness';
import type { Db } from '../../db/knex';
import { stripeFixture } from '../helpers/stripe';
import { eventually, type DevServer } from '../helpers/temporal';
import { ago, onPlan } from '../helpers/plan-customers';
import { CustomerBuilder } from '../domain/mrr-builder';
import { reports, seatSubscription, seedExpansion } from './fixtures';

const DAY = 86_400_000;

/**
 * The expansion playbook end to end: customers near a plan limit or adding seats in a
 * real Postgres mirror, the play's scan, pitch workflows on the Temporal dev server
 * with the real activities, review through the API and email through the local
 * SendGrid-compatible receiver.
 */
describe('expansion playbook', () => {
  const ws = 'ws_expansion';
  let h: PlayHarness;
  let database: { db: Db };
  let temporal: DevServer;
  let receiver: EmailReceiver;
  let api: TestApi;
  let scanDeps: OutreachScanDeps;
  let owner: string;
  let member: string;
  let viewer: string;

  beforeAll(async () => {
    h = await startPlayHarness(ws, { fromEmail: 'team@acme.test', seed: (db, keyring) => seedExpansion(db, keyring, ws) });
    ({ temporal, receiver, api, scan: scanDeps } = h);
    database = { db: h.db };
    ({ owner, member, viewer } = h.tokens);
  });

  afterAll(async () => {
    await h?.close(async () => (await expansionPitchRows.list(h.db, ws, { limit: 100 })).map((p) => p.workflowId));
  });

  /** Each customer's newest pitch. */
  const pitches = async (): Promise<Map<string, ExpansionPitch>> => {
    const newest = new Map<string, ExpansionPitch>();
    for (const p of await expansionPitchRows.list(database.db, ws, { limit: 100 })) if (!newest.has(p.customerId)) newest.set(p.customerId, p);
    return newest;
  };
  const draftOf = (pitch: ExpansionPitch): Promise<Draft | undefined> => findStepDraft(database.db, pitch.workflowId, 'pitch');
  const setPlay = async (mode: string, config?: object) => {
    const res = await api.request('PUT', `/workspaces/${ws}/plays/expansion/settings`, { token: owner, body: { mode, ...(config ? { config } : {}) } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const errorOf = (body: unknown) => (body as { error: { message: string } }).error.message;

  it('keeps each change of seats from the mirror, whichever writer brings it, and none from an older state', async () => {
    const changes = await database.db('seat_changes').where({ workspace_id: ws }).orderBy('id').select('item_id', 'from_quantity', 'to_quantity');
    expect(changes).toEqual([
      { item_id: 'si_cus_team', from_quantity: 6, to_quantity: 9 },
      { item_id: 'si_cus_team_addon', from_quantity: 1, to_quantity: 8 },
    ]);
    // An event older than the stored state (Stripe's out-of-order delivery) changes nothing, so records nothing.
    await upsertSubscriptions(database.db, ws, [seatSubscription('cus_team', 7)], ago(3));
    expect(await database.db('seat_changes').where({ workspace_id: ws }).count<{ c: string }[]>('* as c')).toEqual([{ c: 2 }]);
    expect(await seatsAddedSince(database.db, ws, ago(30))).toEqual(
      new Map([
        [
          'cus_team',
          [
            { productId: 'prod_price_growth', from: 6, to: 9 },
            { productId: 'prod_price_starter', from: 1, to: 8 },
          ],
        ],
      ]),
    );
    // Outside the window there is nothing to count.
    expect((await seatsAddedSince(database.db, ws, ago(0.25))).size).toBe(0);
  });

  it('refuses settings out of range, naming the field, and reads the defaults until set', async () => {
    const read = await api.request('GET', `/workspaces/${ws}/plays/expansion/settings`, { token: viewer });
    expect(read.body).toMatchObject({ mode: 'review', config: { cooldownDays: 90, seatsAdded: 3, seatWindowDays: 30 } });
    const bad = await api.request('PUT', `/workspaces/${ws}/plays/expansion/settings`, { token: owner, body: { mode: 'auto', config: { seatsAdded: 0 } } });
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body)).toBe('invalid config: seatsAdded: Too small: expected number to be >=1');
    const unknown = await api.request('PUT', `/workspaces/${ws}/plays/expansion/settings`, { token: owner, body: { mode: 'auto', config: { seats: 3 } } });
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown.body)).toContain('seats');
    const short = await api.request('PUT', `/workspaces/${ws}/plays/expansion/settings`, { token: owner, body: { mode: 'auto', config: { cooldownDays: 7 } } });
    expect(short.status).toBe(400);
    expect(errorOf(short.body)).toBe('invalid config: cooldownDays: must be at least seatWindowDays, or the same seats would be pitched again');
    expect((await api.request('GET', `/workspaces/${ws}/plays/expansion/settings`, { token: viewer })).body).toMatchObject({ mode: 'review', updatedAt: null });
  });

  it('pitches the plan up to a customer near a limit and the unlimited tier to one adding seats, and no one else', async () => {
    await setPlay('review');
    const scan = await scanExpansion(scanDeps, new Date(), [ws]);
    // cus_owing is a candidate too, but in dunning; cus_risky is at churn risk; cus_quiet is far from the limit, cus_top on the top plan.
    expect(scan).toEqual({ workspaces: 1, failed: 0, candidates: 3, opened: 2, started: 2, swept: 0 });
    const opened = await pitches();
    expect([...opened.keys()].sort()).toEqual(['cus_busy', 'cus_team']);
    expect(opened.get('cus_busy')).toMatchObject({ trigger: 'near_limit', targetProductId: 'prod_price_scale', evidence: { metric: 'reports_generated', used: 8_600, included: 10_000, percent: 86 } });
    expect(opened.get('cus_team')).toMatchObject({ trigger: 'seats_added', targetProductId: 'prod_price_scale', evidence: { from: 6, to: 9, added: 3 } });
    for (const pitch of opened.values()) {
      await eventually(() => temporal.client.workflow.getHandle(pitch.workflowId).query(expansionPitchStateQuery), (s) => s.phase === 'waiting_for_review');
    }
    const busy = (await draftOf(opened.get('cus_busy')!))!;
    expect(busy).toMatchObject({ status: 'drafted', play: 'expansion', templateKey: 'near_limit', toAddress: 'cus_busy@example.com', subject: 'You are close to your reports generated limit on Acme Analytics' });
    expect(busy.bodyText).toContain('In the last 30 days your team used 8,600 of the 10,000 reports generated included each month (86%) with Growth.');
    expect(busy.bodyText).toContain('Scale includes 50,000 reports generated for $299.00 per month (you pay $99.00 now).');
    const team = (await draftOf(opened.get('cus_team')!))!;
    expect(team.templateKey).toBe('seats_added');
    // Priced for their nine seats.
    expect(team.bodyText).toContain('3 seats added recently, 9 in all. With Scale, seats are unlimited, so you can bring everyone in without counting for $2,691.00 per month (you pay $891.00 now).');
    expect((team.facts as unknown as ExpansionPitchFacts).target).toMatchObject({ name: 'Scale', unlimitedSeats: true });
  });

  it("hides the use a pitch cites from a role the workspace hides the product's activity from", async () => {
    const busy = (await draftOf((await pitches()).get('cus_busy')!))!;
    await storeRedactionSetting(database.db, ws, { fields: ['activity'], visibleTo: 'finance' });
    try {
      const hidden = ((await api.request('GET', `/workspaces/${ws}/drafts/${busy.id}`, { token: member })).body as { draft: { bodyText: string; facts: { usage: unknown } } }).draft;
      expect(hidden.bodyText).toContain('your team used [hidden] with Growth');
      expect(hidden.bodyText).not.toContain('8,600');
      // Nor the share, which with the plan's allowance would give the count back.
      expect(hidden.bodyText).not.toContain('86%');
      expect(hidden.facts.usage).toBeNull();
      const listed = (await api.request('GET', `/workspaces/${ws}/expansion-pitches?customerId=cus_busy`, { token: viewer })).body as { pitches: { evidence: unknown }[] };
      expect(listed.pitches[0]!.evidence).toBeNull();
      const shown = (await api.request('GET', `/workspaces/${ws}/expansion-pitches?customerId=cus_busy`, { token: owner })).body as { pitches: { evidence: unknown }[] };
      expect(shown.pitches[0]!.evidence).toMatchObject({ used: 8_600 });
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
  });

  it('sends an approved pitch once, and cancels a waiting one when a dunning begins', async () => {
    const opened = await pitches();
    const busy = (await draftOf(opened.get('cus_busy')!))!;
    expect((await api.request('POST', `/workspaces/${ws}/drafts/${busy.id}/approve`, { token: member })).status).toBe(200);
    await eventually(pitches, (p) => p.get('cus_busy')!.outcome === 'sent');
    const mail = receiver.messages.filter((m) => m.idempotencyKey === `draft:${busy.id}`);
    expect(mail).toHaveLength(1);
    expect(mail[0]!.to).toEqual(['cus_busy@example.com']);
    // The customer's page tells of it.
    const profile = (await api.request('GET', `/workspaces/${ws}/customers/cus_busy`, { token: viewer })).body as { pitches: object[] };
    expect(profile.pitches).toMatchObject([{ trigger: 'near_limit', plan: 'Scale', outcome: 'sent' }]);

    // A payment fails while cus_team's pitch waits: the dunning play writes to them now.
    await openDunningCase(database.db, { workspaceId: ws, invoiceId: 'in_team', customerId: 'cus_team', workflowId: `dunning:${ws}:in_team`, currency: 'usd', amountDue: 89100, failedAt: new Date() });
    // A settings change wakes the waiting workflows, which look at the customer again.
    await setPlay('review', { cooldownDays: 90, seatsAdded: 3, seatWindowDays: 30 });
    await eventually(pitches, (p) => p.get('cus_team')!.outcome === 'in_dunning');
    expect((await draftOf(opened.get('cus_team')!))!.status).toBe('cancelled');
    expect(receiver.messages.some((m) => m.to.includes('cus_team@example.com'))).toBe(false);
  });

  it('opens no second pitch while the customer cools down, nor one to a customer being saved', async () => {
    expect(await scanExpansion(scanDeps, new Date(), [ws])).toMatchObject({ opened: 0 });
    // A new customer near the limit, whom the churn radar is trying to save.
    await seedMirror(database.db, ws, [onPlan('cus_saved', 'growth')]);
    await storeProductSignals(database.db, ws, [reports('cus_saved', 9_500)]);
    await openChurnSaves(database.db, ws, [{ customerId: 'cus_saved', score: 60, reasons: [] }], { threshold: 50, cooldownDays: 30, now: new Date() });
    expect(await scanExpansion(scanDeps, new Date(), [ws])).toMatchObject({ opened: 0 });
    expect((await pitches()).has('cus_saved')).toBe(false);
    // With a day's cooldown, cus_busy (still near the limit) cools down for a day, then may be pitched again.
    await setPlay('review', { cooldownDays: 1, seatWindowDays: 1 });
    expect(await scanExpansion(scanDeps, new Date(Date.now() + DAY / 2), [ws])).toMatchObject({ opened: 0 });
    expect(await scanExpansion(scanDeps, new Date(Date.now() + 2 * DAY), [ws])).toMatchObject({ opened: 1 });
    expect((await expansionPitchRows.list(database.db, ws, { customerId: 'cus_busy', limit: 10 })).length).toBe(2);
  });

  it('ends a waiting pitch as churned once the customer has left, and as no longer eligible while they stay on a plan it cannot tell', async () => {
    // Two customers near Growth's limit, pitched Scale.
    await seedMirror(database.db, ws, [onPlan('cus_leaving', 'growth'), onPlan('cus_unpriced', 'growth')]);
    const contact = (id: string, name: string) => ({ ...stripeFixture('customer'), id, name, email: `${id}@example.com` }) as unknown as Stripe.Customer;
    await upsertCustomers(database.db, ws, [contact('cus_leaving', 'Lee Leaving'), contact('cus_unpriced', 'Una Unpriced')], new Date(), h.keyring);
    await storeProductSignals(database.db, ws, [reports('cus_leaving', 9_500), reports('cus_unpriced', 9_500)]);
    await scanExpansion(scanDeps, new Date(), [ws]);
    const opened = await pitches();
    for (const id of ['cus_leaving', 'cus_unpriced']) {
      const pitch = opened.get(id)!;
      expect(pitch).toMatchObject({ targetProductId: 'prod_price_scale', outcome: null });
      await eventually(() => temporal.client.workflow.getHandle(pitch.workflowId).query(expansionPitchStateQuery), (s) => s.phase === 'waiting_for_review');
    }
    // cus_leaving's subscription ends. cus_unpriced's stays, but gains seats billed by tiers the mirror has not read yet:
    // what it is worth, and so which plan is theirs, is unknown (db/customer-plan.ts), though they have not left.
    await database.db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_leaving' }).update({ status: 'canceled', ended_at: new Date() });
    await seedMirror(database.db, ws, [
      new CustomerBuilder('cus_unpriced')
        .price('price_growth', 9900)
        .price('price_seats_unsynced', null, 'month', { billing_scheme: 'tiered' })
        .subscription('sub_cus_unpriced', { items: ['price_growth', 'price_seats_unsynced'], current_period_end: ago(-20) })
        .build(),
    ]);
    for (const id of ['cus_leaving', 'cus_unpriced']) await temporal.client.workflow.getHandle(opened.get(id)!.workflowId).signal(playSettingsChangedSignal);
    const ended = await eventually(pitches, (p) => p.get('cus_leaving')!.outcome !== null && p.get('cus_unpriced')!.outcome !== null);
    expect(ended.get('cus_leaving')!.outcome).toBe('churned');
    expect(ended.get('cus_unpriced')!.outcome).toBe('no_longer_eligible');
    for (const id of ['cus_leaving', 'cus_unpriced']) expect((await draftOf(opened.get(id)!))!.status).toBe('cancelled');
  });

  it('sends at once in auto mode, and refuses a scan while the play is off', async () => {
    await setPlay('auto');
    // Mirrored from their subscription only: no contact details.
    await seedMirror(database.db, ws, [onPlan('cus_eager', 'starter')]);
    await storeProductSignals(database.db, ws, [reports('cus_eager', 950)]);
    expect((await api.request('POST', `/workspaces/${ws}/expansion/scan`, { token: member })).status).toBe(403);
    const scan = await api.request('POST', `/workspaces/${ws}/expansion/scan`, { token: owner });
    expect(scan.status).toBe(200);
    expect(scan.body).toMatchObject({ opened: 1, started: 1 });
    // Stripe has no address for them: nothing to send, and the pitch says why.
    await eventually(pitches, (p) => p.get('cus_eager')?.outcome === 'no_email');

    await seedMirror(database.db, ws, [onPlan('cus_keen', 'starter')]);
    await storeProductSignals(database.db, ws, [reports('cus_keen', 990)]);
    await upsertCustomers(database.db, ws, [{ ...stripeFixture('customer'), id: 'cus_keen', name: 'Kim Keen', email: 'cus_keen@example.com' } as unknown as Stripe.Customer], new Date(), h.keyring);
    expect((await api.request('POST', `/workspaces/${ws}/expansion/scan`, { token: owner })).body).toMatchObject({ opened: 1 });
    await eventually(pitches, (p) => p.get('cus_keen')?.outcome === 'sent');
    const keen = (await draftOf((await pitches()).get('cus_keen')!))!;
    expect(keen.bodyText).toContain('Growth includes 10,000 reports generated for $99.00 per month (you pay $29.00 now).');
    expect(receiver.messages.filter((m) => m.idempotencyKey === `draft:${keen.id}`)).toHaveLength(1);

    await setPlay('off');
    const refused = await api.request('POST', `/workspaces/${ws}/expansion/scan`, { token: owner });
    expect(refused.status).toBe(409);
    expect(errorOf(refused.body)).toContain('the expansion play is off in this workspace');
    const bad = await api.request('GET', `/workspaces/${ws}/expansion-pitches?limit=0`, { token: viewer });
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body)).toContain('limit');
  });

  it("takes a workspace's own pitch templates, checked against an imaginary customer", async () => {
    const listed = await api.request('GET', `/workspaces/${ws}/templates/expansion`, { token: viewer });
    expect((listed.body as { templates: { key: string }[] }).templates.map((t) => t.key)).toEqual(['near_limit', 'seats_added']);
    const broken = await api.request('PUT', `/workspaces/${ws}/templates/expansion/near_limit`, { token: owner, body: { subject: 'Upgrade', html: '<p>{{ usage.nope }}</p>', text: 't' } });
    expect(broken.status).toBe(400);
    expect(errorOf(broken.body)).toMatch(/^invalid template: html line 1/);
    // The plan pitched may have no price on the customer's terms: printed bare it is refused, guarded it is taken.
    const bare = await api.request('PUT', `/workspaces/${ws}/templates/expansion/seats_added`, { token: owner, body: { subject: 'Upgrade', html: '<p>{{ target.price | money }}</p>', text: 't' } });
    expect(bare.status).toBe(400);
    expect(errorOf(bare.body)).toMatch(/money: no amount here/);
    const guarded = { subject: 'Upgrade', html: '<p>{% if target.price %}{{ target.price | money }}{% endif %}</p>', text: 't' };
    expect((await api.request('PUT', `/workspaces/${ws}/templates/expansion/seats_added`, { token: owner, body: guarded })).status).toBe(200);
    expect((await api.request('DELETE', `/workspaces/${ws}/templates/expansion/seats_added`, { token: owner })).status).toBe(200);
    const preview = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { play: 'expansion', templateKey: 'seats_added' } });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ to: 'jordan@example.com', subject: 'Room for your whole team on Acme Analytics' });
    const wrongKey = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { play: 'expansion', templateKey: 'downgrade' } });
    expect(wrongKey.status).toBe(400);
    expect(errorOf(wrongKey.body)).toMatch(/^invalid body: templateKey: /);
  });
});
