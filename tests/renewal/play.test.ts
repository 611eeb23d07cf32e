import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanRenewals } from '../../activities/renewal';
import type { OutreachScanDeps } from '../../activities/outreach-scan';
import { findStepDraft, type Draft } from '../../db/drafts';
import type { Db } from '../../db/knex';
import { seedMirror } from '../../db/analytics-seed';
import { upsertCustomers } from '../../db/mirror';
import { storeProductSignals } from '../../db/product-signals';
import { renewalNoteRows, renewalState, type RenewalNote } from '../../db/renewal-notes';
import { churnSaveRows, openChurnSaves } from '../../db/churn-saves';
import type { RenewalNoteFacts } from '../../domain/renewal';
import type { EmailReceiver } from '../../sim/email-receiver';
import { renewalNoteStateQuery } from '../../workflows/play-messages';
import type { TestApi } from '../helpers/api';
import { ago } from '../helpers/plan-customers';
import { startPlayHarness, type PlayHarness } from '../helpers/play-harness';
import { eventually, type DevServer } from '../helpers/temporal';
import { scanKey, scansUnderWay } from '../../api/play-scan-route';
import { CustomerBuilder } from '../domain/mrr-builder';
import { contact, seedRenewals, yearly } from './fixtures';
import { stripeFixture } from '../helpers/stripe';

/**
 * The renewal play end to end: long-term subscriptions renewing in a real Postgres
 * mirror, the play's scan, note workflows on the Temporal dev server with the real
 * activities, review through the API and email through the local receiver.
 */
describe('renewal notes', () => {
  const ws = 'ws_renewal';
  let h: PlayHarness;
  let db: Db;
  let temporal: DevServer;
  let receiver: EmailReceiver;
  let api: TestApi;
  let scanDeps: OutreachScanDeps;
  let owner: string;
  let member: string;
  let viewer: string;

  beforeAll(async () => {
    h = await startPlayHarness(ws, { fromEmail: 'accounts@acme.test', seed: (d, keyring) => seedRenewals(d, keyring, ws) });
    ({ db, temporal, receiver, api, scan: scanDeps } = h);
    ({ owner, member, viewer } = h.tokens);
  });

  afterAll(async () => {
    await h?.close(async () => (await renewalNoteRows.list(h.db, ws, { limit: 100 })).map((n) => n.workflowId));
  });

  /** Each customer's newest note. */
  const notes = async (): Promise<Map<string, RenewalNote>> => {
    const newest = new Map<string, RenewalNote>();
    for (const n of await renewalNoteRows.list(db, ws, { limit: 100 })) if (!newest.has(n.customerId)) newest.set(n.customerId, n);
    return newest;
  };
  const draftOf = (note: RenewalNote): Promise<Draft | undefined> => findStepDraft(db, note.workflowId, 'note');
  const setPlay = async (mode: string, config?: object) => {
    const res = await api.request('PUT', `/workspaces/${ws}/plays/renewal/settings`, { token: owner, body: { mode, ...(config ? { config } : {}) } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const errorOf = (body: unknown) => (body as { error: { message: string } }).error.message;

  it('refuses settings out of range, naming the field, and reads the defaults until set', async () => {
    expect((await api.request('GET', `/workspaces/${ws}/plays/renewal/settings`, { token: viewer })).body).toMatchObject({ mode: 'review', config: { daysBefore: 30, offers: true } });
    const bad = await api.request('PUT', `/workspaces/${ws}/plays/renewal/settings`, { token: owner, body: { mode: 'review', config: { daysBefore: 3 } } });
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body)).toBe('invalid config: daysBefore: Too small: expected number to be >=7');
  });

  it('drafts one note per long-term renewal in the window, folding in a save or an upgrade where the customer calls for one', async () => {
    await setPlay('review');
    const scan = await scanRenewals(scanDeps, new Date(), [ws]);
    // Seven renewals in the window: cus_owing's waits out its dunning, and cus_twice gets one note at a time.
    // Monthly, far, cancelled and trial subscriptions are not renewals to write about.
    expect(scan).toEqual({ workspaces: 1, failed: 0, candidates: 7, opened: 5, started: 5, swept: 0 });
    const opened = await notes();
    expect([...opened.keys()].sort()).toEqual(['cus_growing', 'cus_pitched', 'cus_steady', 'cus_twice', 'cus_wavering']);
    for (const note of opened.values()) {
      await eventually(() => temporal.client.workflow.getHandle(note.workflowId).query(renewalNoteStateQuery), (s) => s.phase === 'waiting_for_review');
    }
    const steady = (await draftOf(opened.get('cus_steady')!))!;
    expect(steady).toMatchObject({ status: 'drafted', play: 'renewal', templateKey: 'plain', toAddress: 'cus_steady@example.com' });
    expect(steady.subject).toMatch(/^Your Acme Analytics plan renews on \d{1,2} \w+ \d{4}$/);
    expect(steady.bodyText).toContain('Your Growth plan renews on');
    expect(steady.bodyText).toContain('at $990.00 per year; thank you for 23 months with Acme Analytics.');
    expect(steady.bodyText).toContain('What your team did with Acme Analytics: 2,400 reports generated in the last 30 days.');

    const growing = (await draftOf(opened.get('cus_growing')!))!;
    expect(growing.templateKey).toBe('upgrade');
    expect(growing.bodyText).toContain('What your team did with Acme Analytics: 9,000 of the 10,000 reports generated included each month (90%), in the last 30 days.');
    expect(growing.bodyText).toContain('you could renew on Scale, which includes 50,000 reports generated, at $2,990.00 per year.');

    const wavering = (await draftOf(opened.get('cus_wavering')!))!;
    expect(wavering.templateKey).toBe('save');
    // Support trouble: credits, a fifth of their monthly $82.50.
    expect(wavering.bodyText).toContain('we would like to add $17.00 of credit to your account');
    const facts = wavering.facts as unknown as RenewalNoteFacts;
    expect(facts.risk?.reasons.map((r) => r.code).sort()).toEqual(['no_recent_login', 'nps_detractor', 'support_tickets']);
    expect(wavering.bodyText).not.toContain('risk');
    expect((await notes()).get('cus_wavering')!.fold).toBe('save');
    // Near the limit too, but pitched an upgrade ten days ago: the expansion play's cooldown holds in the note.
    expect((await draftOf(opened.get('cus_pitched')!))!.templateKey).toBe('plain');
  });

  it('sends an approved note once, and ends one whose subscription renewed or will not renew before it went', async () => {
    const opened = await notes();
    const steady = (await draftOf(opened.get('cus_steady')!))!;
    expect((await api.request('POST', `/workspaces/${ws}/drafts/${steady.id}/approve`, { token: member })).status).toBe(200);
    await eventually(notes, (n) => n.get('cus_steady')!.outcome === 'sent');
    expect(receiver.messages.filter((m) => m.idempotencyKey === `draft:${steady.id}`)).toHaveLength(1);
    // The customer's page tells of it.
    const profile = (await api.request('GET', `/workspaces/${ws}/customers/cus_steady`, { token: viewer })).body as { renewalNotes: object[] };
    expect(profile.renewalNotes).toMatchObject([{ subscriptionId: 'sub_cus_steady', fold: 'plain', outcome: 'sent' }]);

    // cus_wavering's subscription renewed (the mirror holds the period that begins at the old end); cus_growing set theirs to cancel.
    const renewsAt = opened.get('cus_wavering')!.renewsAt;
    await db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_wavering' }).update({ current_period_start: renewsAt, current_period_end: new Date(renewsAt.getTime() + 365 * 86_400_000) });
    await db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_growing' }).update({ cancel_at_period_end: true });
    // A settings change wakes the waiting workflows, which look at the subscription again.
    await setPlay('review', { daysBefore: 30, offers: true });
    await eventually(notes, (n) => n.get('cus_wavering')!.outcome === 'renewed' && n.get('cus_growing')!.outcome === 'not_renewing');
    expect((await draftOf(opened.get('cus_wavering')!))!.status).toBe('cancelled');
    expect((await draftOf(opened.get('cus_growing')!))!.status).toBe('cancelled');
    expect(receiver.messages.some((m) => m.to.includes('cus_wavering@example.com') || m.to.includes('cus_growing@example.com'))).toBe(false);
    // One note per renewal: a second look opens none for the same renewals.
    expect(await scanRenewals(scanDeps, new Date(), [ws])).toMatchObject({ opened: 0 });

    // cus_twice's renewal moves two days later (a billing change): that note ends, and the next look writes about the new date.
    const twice = opened.get('cus_twice')!;
    const moved = new Date(twice.renewsAt.getTime() + 2 * 86_400_000);
    await db('stripe_subscriptions').where({ workspace_id: ws, id: twice.subscriptionId }).update({ current_period_end: moved });
    await setPlay('review', { daysBefore: 30, offers: true });
    await eventually(notes, (n) => n.get('cus_twice')!.outcome === 'moved');
    expect((await scanRenewals(scanDeps, new Date(), [ws])).opened).toBe(1);
    const next = (await notes()).get('cus_twice')!;
    expect(next.outcome).toBeNull();
    expect(next.id).not.toBe(twice.id);
    const listed = (await api.request('GET', `/workspaces/${ws}/renewal-notes?customerId=cus_steady`, { token: viewer })).body as { notes: object[] };
    expect(listed.notes).toMatchObject([{ customerId: 'cus_steady', name: 'Steady Customer', subscriptionId: 'sub_cus_steady', fold: 'plain', outcome: 'sent' }]);
  });

  it('sends at once in auto mode, without an upgrade while the expansion play is off, and refuses a scan while off', async () => {
    await setPlay('auto', { daysBefore: 30, offers: true });
    // The expansion play is off here: a note does not pitch what the workspace chose not to.
    expect((await api.request('PUT', `/workspaces/${ws}/plays/expansion/settings`, { token: owner, body: { mode: 'off' } })).status).toBe(200);
    await seedMirror(db, ws, [yearly('cus_eager', 5)]);
    await upsertCustomers(db, ws, [contact('cus_eager', 'Eve Eager')], new Date(), h.keyring);
    await storeProductSignals(db, ws, [{ type: 'usage', id: 'r-eager', customerId: 'cus_eager', at: ago(2), metric: 'reports_generated', quantity: 9_900 }]);
    expect((await api.request('POST', `/workspaces/${ws}/renewals/scan`, { token: member })).status).toBe(403);
    const scan = await api.request('POST', `/workspaces/${ws}/renewals/scan`, { token: owner });
    expect(scan.status).toBe(200);
    expect(scan.body).toMatchObject({ opened: 1, started: 1 });
    await eventually(notes, (n) => n.get('cus_eager')?.outcome === 'sent');
    const eager = (await draftOf((await notes()).get('cus_eager')!))!;
    // Near the limit, but with the expansion play off the note carries no upgrade.
    expect(eager.templateKey).toBe('plain');
    expect(receiver.messages.filter((m) => m.idempotencyKey === `draft:${eager.id}`)).toHaveLength(1);

    // While another look runs (marked as under way here), a second is refused rather than piled up.
    scansUnderWay.add(scanKey('renewal', ws));
    try {
      const busy = await api.request('POST', `/workspaces/${ws}/renewals/scan`, { token: owner });
      expect(busy.status).toBe(409);
      expect(errorOf(busy.body)).toBe('the renewal play is already looking at this workspace; try again once that look has finished');
    } finally {
      scansUnderWay.delete(scanKey('renewal', ws));
    }
    // Once no look runs, the next goes ahead.
    expect((await api.request('POST', `/workspaces/${ws}/renewals/scan`, { token: owner })).status).toBe(200);

    await setPlay('off');
    const refused = await api.request('POST', `/workspaces/${ws}/renewals/scan`, { token: owner });
    expect(refused.status).toBe(409);
    expect(errorOf(refused.body)).toContain('the renewal play is off in this workspace');
  });

  it('quotes what the renewal will charge, leaves out a renewal cut short, and writes again about a renewal whose note ended while the play was off', async () => {
    // cus_partner: Growth yearly, three extra seats at $120, API use billed on top, and 10% off for good.
    const partner = new CustomerBuilder('cus_partner')
      .price('price_growth_y', 99_000, 'year')
      .price('price_seat_y', 12_000, 'year')
      .price('price_api_m', 2, 'month', { recurring_usage_type: 'metered' })
      .subscription('sub_cus_partner', { items: ['price_growth_y', 'price_seat_y', 'price_api_m'], current_period_start: ago(344), current_period_end: ago(-21) })
      .build();
    // cus_stub's subscription is set to end three months into its next year; cus_whole's at the end of it.
    await seedMirror(db, ws, [partner, yearly('cus_stub', 9), yearly('cus_whole', 9)]);
    await db('stripe_subscription_items').where({ workspace_id: ws, id: 'si_sub_cus_partner_price_seat_y' }).update({ quantity: 3 });
    const cancelAt = (id: string, afterRenewal: string) => db('stripe_subscriptions').where({ workspace_id: ws, id }).update({ cancel_at: db.raw(`current_period_end + interval '${afterRenewal}'`) });
    await cancelAt('sub_cus_stub', '3 months');
    await cancelAt('sub_cus_whole', '1 year');
    // As a sync stores it: the coupon's terms, and no restriction to products.
    const forever = { id: 'di_partner', coupon: { id: 'PARTNER10', percent_off: 10, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: null }, start: Math.floor(ago(300).getTime() / 1000), end: null };
    await db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_partner' }).update({ discounts: JSON.stringify([forever]) });
    await upsertCustomers(db, ws, ['cus_partner', 'cus_stub', 'cus_whole'].map((id) => contact(id, 'Pat Partner')), new Date(), h.keyring);

    await setPlay('review');
    const before = await notes();
    await scanRenewals(scanDeps, new Date(), [ws]);
    const first = await notes();
    // (cus_twice's second subscription may get its note now too, once the first has ended.)
    const opened = [...first.values()].filter((n) => before.get(n.customerId)?.id !== n.id).map((n) => n.customerId);
    expect(opened).toEqual(expect.arrayContaining(['cus_partner', 'cus_whole']));
    expect(opened).not.toContain('cus_stub');
    const note = first.get('cus_partner')!;
    await eventually(() => temporal.client.workflow.getHandle(note.workflowId).query(renewalNoteStateQuery), (s) => s.phase === 'waiting_for_review');
    const draft = (await draftOf(note))!;
    // ($990 + 3 × $120) less 10%: $1,215, the API calls on top.
    expect(draft.bodyText).toContain('at $1,215.00 per year with your discount, plus usage;');
    expect(draft.facts).toMatchObject({ plan: { price: { amount: 121_500, currency: 'usd' }, listPrice: { amount: 135_000, currency: 'usd' }, plusUsage: true } });

    // The play goes off while both wait, and on again before the renewals: each gets a note again.
    const waiting = [...(await notes()).values()].filter((n) => n.outcome === null).map((n) => n.customerId);
    expect(waiting).toEqual(expect.arrayContaining(['cus_partner', 'cus_whole']));
    await setPlay('off');
    await eventually(notes, (n) => waiting.every((id) => n.get(id)!.outcome === 'off'));
    await setPlay('review');
    expect((await scanRenewals(scanDeps, new Date(), [ws])).opened).toBe(waiting.length);
    const again = await notes();
    for (const id of waiting) {
      expect(again.get(id)!.id).not.toBe(first.get(id)!.id);
      expect(again.get(id)).toMatchObject({ renewsAt: first.get(id)!.renewsAt, outcome: null });
    }
    // Once a note for a renewal is open (or ended any other way), a look opens no second one.
    expect((await scanRenewals(scanDeps, new Date(), [ws])).opened).toBe(0);
  });

  it("quotes a renewal after an item's own discount and a coupon restricted to some of its products", async () => {
    // cus_perks: Growth yearly with 20% off of its own, two seats at $120 a year, and $50 off for good restricted to the seats.
    const perks = new CustomerBuilder('cus_perks')
      .price('price_growth_y', 99_000, 'year')
      .price('price_seat_y', 12_000, 'year')
      .subscription('sub_cus_perks', { items: ['price_growth_y', 'price_seat_y'], current_period_start: ago(340), current_period_end: ago(-25) })
      .build();
    await seedMirror(db, ws, [perks]);
    await db('stripe_subscription_items').where({ workspace_id: ws, id: 'si_sub_cus_perks_price_seat_y' }).update({ quantity: 2 });
    // As a sync stores them: each discount with its coupon's terms and restriction.
    const start = Math.floor(ago(200).getTime() / 1000);
    const planOwn = { id: 'di_perks_plan', coupon: { id: 'PLAN20', percent_off: 20, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: null }, start, end: null };
    const seatsOnly = { id: 'di_perks_seats', coupon: { id: 'SEATS50USD', percent_off: null, amount_off: 5_000, currency: 'usd', duration: 'forever', duration_in_months: null, applies_to: { products: ['prod_price_seat_y'] } }, start, end: null };
    await db('stripe_subscription_items').where({ workspace_id: ws, id: 'si_sub_cus_perks_price_growth_y' }).update({ discounts: JSON.stringify([planOwn]) });
    await db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_perks' }).update({ discounts: JSON.stringify([seatsOnly]) });
    await upsertCustomers(db, ws, [contact('cus_perks', 'Pia Perks')], new Date(), h.keyring);

    await setPlay('review');
    await scanRenewals(scanDeps, new Date(), [ws]);
    const note = (await notes()).get('cus_perks')!;
    await eventually(() => temporal.client.workflow.getHandle(note.workflowId).query(renewalNoteStateQuery), (s) => s.phase === 'waiting_for_review');
    const draft = (await draftOf(note))!;
    // $990 less its own 20% ($792), and the seats' $240 less the $50 restricted to them ($190); not $50 off the plan as well.
    expect(draft.bodyText).toContain('Your Growth plan renews on');
    expect(draft.bodyText).toContain('at $982.00 per year with your discount;');
    expect(draft.facts).toMatchObject({ plan: { price: { amount: 98_200, currency: 'usd' }, listPrice: { amount: 123_000, currency: 'usd' }, discountUnknown: false } });
  });

  it("quotes a plan priced by seat tiers, before discounts for a customer with their own, and no price where the mirror cannot work one out", async () => {
    // cus_team: 8 seats of a yearly graduated price, the first 5 at $200 and the rest at $150; nothing else.
    const tiers = [
      { up_to: 5, unit_amount: 20_000, unit_amount_decimal: '20000', flat_amount: null, flat_amount_decimal: null },
      { up_to: null, unit_amount: 15_000, unit_amount_decimal: '15000', flat_amount: null, flat_amount_decimal: null },
    ];
    const team = new CustomerBuilder('cus_team')
      .price('price_team_y', null, 'year', { billing_scheme: 'tiered' })
      .subscription('sub_cus_team', { items: ['price_team_y'], current_period_start: ago(350), current_period_end: ago(-15) })
      .build();
    // cus_loyal: Growth yearly, no discount on the subscription, 20% off for good on the customer.
    const loyal = yearly('cus_loyal', 15);
    // cus_fraction: Growth yearly, with an add-on priced in fractions of a cent (Stripe sends no whole unit amount).
    const fraction = new CustomerBuilder('cus_fraction')
      .price('price_growth_y', 99_000, 'year')
      .price('price_storage_y', null, 'year')
      .subscription('sub_cus_fraction', { items: ['price_growth_y', 'price_storage_y'], current_period_start: ago(350), current_period_end: ago(-15) })
      .build();
    // cus_unsynced: a yearly tiered price whose tiers the mirror has not read yet (synced before it kept them).
    const unsynced = new CustomerBuilder('cus_unsynced')
      .price('price_unsynced_y', null, 'year', { billing_scheme: 'tiered' })
      .subscription('sub_cus_unsynced', { items: ['price_unsynced_y'], current_period_start: ago(350), current_period_end: ago(-15) })
      .build();
    // cus_addon: Growth yearly beside a yearly add-on whose item id sorts first: the note names Growth.
    const addon = new CustomerBuilder('cus_addon')
      .price('price_aaa_extra_y', 12_000, 'year')
      .price('price_growth_y', 99_000, 'year')
      .subscription('sub_cus_addon', { items: ['price_aaa_extra_y', 'price_growth_y'], current_period_start: ago(350), current_period_end: ago(-15) })
      .build();
    await seedMirror(db, ws, [team, fraction, loyal, unsynced, addon]);
    await db('stripe_products').insert({ workspace_id: ws, id: 'prod_price_team_y', name: 'Team', active: true, stripe_state_at: new Date() });
    const customerDiscount = {
      ...stripeFixture('discount'),
      id: 'di_loyal',
      source: { type: 'coupon', coupon: { ...stripeFixture('coupon'), id: 'LOYAL20', percent_off: 20, amount_off: null, currency: null, duration: 'forever', duration_in_months: null } },
      end: null,
    } as unknown as Stripe.Discount;
    await upsertCustomers(db, ws, [{ ...contact('cus_loyal', 'Lou Loyal'), discount: customerDiscount }], new Date(), h.keyring);
    await db('stripe_prices').where({ workspace_id: ws, id: 'price_team_y' }).update({ tiers_mode: 'graduated', tiers: JSON.stringify(tiers) });
    await db('stripe_subscription_items').where({ workspace_id: ws, id: 'si_sub_cus_team_price_team_y' }).update({ quantity: 8 });
    await upsertCustomers(db, ws, ['cus_team', 'cus_fraction', 'cus_unsynced', 'cus_addon'].map((id) => contact(id, 'Tam Team')), new Date(), h.keyring);

    await setPlay('review');
    await scanRenewals(scanDeps, new Date(), [ws]);
    const opened = await notes();
    const draftReady = async (id: string): Promise<Draft> => {
      const note = opened.get(id);
      expect(note, id).toBeDefined();
      await eventually(() => temporal.client.workflow.getHandle(note!.workflowId).query(renewalNoteStateQuery), (s) => s.phase === 'waiting_for_review');
      return (await draftOf(note!))!;
    };
    // 5 × $200 + 3 × $150.
    const teamDraft = await draftReady('cus_team');
    expect(teamDraft.bodyText).toMatch(/Your Team plan renews on \d{1,2} \w+ \d{4} at \$1,450\.00 per year[;.]/);
    expect(teamDraft.facts).toMatchObject({ plan: { price: { amount: 145_000, currency: 'usd' }, listPrice: { amount: 145_000, currency: 'usd' } } });
    // The customer's own 20% off bills a subscription without one of its own; the mirror knows it as of the last
    // sync only (it may be gone by the renewal), so the note quotes the list price, before discounts, not $990 flat.
    const loyalDraft = await draftReady('cus_loyal');
    expect(loyalDraft.bodyText).toContain('at $990.00 per year before discounts;');
    expect(loyalDraft.facts).toMatchObject({ plan: { price: { amount: 99_000 }, listPrice: { amount: 99_000 }, discountUnknown: true } });
    // $990 and an amount the mirror cannot tell: no price rather than $990 alone.
    const fractionDraft = await draftReady('cus_fraction');
    expect(fractionDraft.bodyText).toMatch(/Your Growth plan renews on \d{1,2} \w+ \d{4} for another year[;.]/);
    expect(fractionDraft.bodyText).not.toContain('$990');
    expect(fractionDraft.facts).toMatchObject({ plan: { price: null, listPrice: null } });
    const addonDraft = await draftReady('cus_addon');
    expect(addonDraft.bodyText).toMatch(/Your Growth plan renews on \d{1,2} \w+ \d{4} at \$1,110\.00 per year[;.]/);
    // A plan of no amount the mirror can tell still renews: the note is written, without a price; its
    // product is not in the mirror's catalogue either, and the note names no product id to the customer.
    const unsyncedDraft = await draftReady('cus_unsynced');
    expect(unsyncedDraft.bodyText).toMatch(/Your plan renews on \d{1,2} \w+ \d{4} for another year[;.]/);
    expect(unsyncedDraft.bodyText).not.toContain('prod_');
    expect(unsyncedDraft.facts).toMatchObject({ plan: { name: null } });
    expect((await notes()).get('cus_unsynced')!.outcome).toBeNull();
  });

  it('drafts an upgrade note again, as a save, when the churn risk reaches the threshold while it waits', async () => {
    // cus_rising: Growth yearly renewing in 12 days, 9,200 reports (near the limit), last seen 20 days ago (risk 20).
    expect((await api.request('PUT', `/workspaces/${ws}/plays/expansion/settings`, { token: owner, body: { mode: 'review' } })).status).toBe(200);
    await seedMirror(db, ws, [yearly('cus_rising', 12)]);
    await upsertCustomers(db, ws, [contact('cus_rising', 'Rae Rising')], new Date(), h.keyring);
    await storeProductSignals(db, ws, [
      { type: 'login', id: 'l-rising', customerId: 'cus_rising', at: ago(20) },
      { type: 'usage', id: 'r-rising', customerId: 'cus_rising', at: ago(3), metric: 'reports_generated', quantity: 9_200 },
    ]);
    await setPlay('review', { daysBefore: 30, offers: true });
    await scanRenewals(scanDeps, new Date(), [ws]);
    const first = (await notes()).get('cus_rising')!;
    await eventually(notes, (n) => n.get('cus_rising')!.fold === 'upgrade');

    // Two urgent tickets and an NPS of 4 take the risk to 50, the churn play's threshold.
    await storeProductSignals(db, ws, ['T-r1', 'T-r2'].map((id) => ({ type: 'ticket' as const, id, customerId: 'cus_rising', at: ago(1), ticket: id, status: 'opened' as const, priority: 'urgent' as const })));
    await db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_rising', score: 4, at: ago(1) });
    await setPlay('review', { daysBefore: 30, offers: true });
    await eventually(notes, (n) => n.get('cus_rising')!.outcome === 'refolded');
    expect((await draftOf(first))!.status).toBe('cancelled');
    await scanRenewals(scanDeps, new Date(), [ws]);
    const again = (await notes()).get('cus_rising')!;
    expect(again.id).not.toBe(first.id);
    expect(again).toMatchObject({ subscriptionId: first.subscriptionId, renewsAt: first.renewsAt, outcome: null });
    await eventually(notes, (n) => n.get('cus_rising')!.fold === 'save');
    expect((await draftOf(again))!.templateKey).toBe('save');

    // cus_cooled: as near the limit and as much at risk, but sent a save five days ago (the
    // churn play's cooldown): no save to fold in, and no upgrade either; a plain note, which stays.
    await seedMirror(db, ws, [yearly('cus_cooled', 13)]);
    await upsertCustomers(db, ws, [contact('cus_cooled', 'Cal Cooled')], new Date(), h.keyring);
    await storeProductSignals(db, ws, [
      { type: 'login', id: 'l-cooled', customerId: 'cus_cooled', at: ago(20) },
      { type: 'usage', id: 'r-cooled', customerId: 'cus_cooled', at: ago(3), metric: 'reports_generated', quantity: 9_300 },
      ...['T-c1', 'T-c2'].map((id) => ({ type: 'ticket' as const, id, customerId: 'cus_cooled', at: ago(1), ticket: id, status: 'opened' as const, priority: 'urgent' as const })),
    ]);
    await db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_cooled', score: 4, at: ago(1) });
    const [save] = await openChurnSaves(db, ws, [{ customerId: 'cus_cooled', score: 50, reasons: [] }], { threshold: 50, cooldownDays: 30, now: ago(6) });
    await churnSaveRows.close(db, save!.id, 'sent', ago(5));
    await scanRenewals(scanDeps, new Date(), [ws]);
    await eventually(notes, (n) => n.get('cus_cooled')?.fold === 'plain');
    const cooled = (await notes()).get('cus_cooled')!;
    // Its workflow's next look keeps it (nothing to redraft), and the scan after opens no other.
    // The look is the one the settings change asks for: the signal, then a prepare (a local activity's marker) after it.
    const cooledDraft = (await draftOf(cooled))!;
    const history = async () => (await temporal.client.workflow.getHandle(cooled.workflowId).fetchHistory()).events ?? [];
    const signalsBefore = (await history()).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    await setPlay('review', { daysBefore: 30, offers: true });
    await eventually(history, (events) => {
      const signals = events.flatMap((e, i) => (e.workflowExecutionSignaledEventAttributes ? [i] : []));
      return signals.length > signalsBefore && events.slice(signals.at(-1)).some((e) => e.markerRecordedEventAttributes);
    });
    expect(await temporal.client.workflow.getHandle(cooled.workflowId).query(renewalNoteStateQuery)).toMatchObject({ phase: 'waiting_for_review', draftId: cooledDraft.id });
    expect(await draftOf(cooled)).toMatchObject({ id: cooledDraft.id, status: cooledDraft.status, templateKey: 'plain' });
    await scanRenewals(scanDeps, new Date(), [ws]);
    expect((await notes()).get('cus_cooled')).toMatchObject({ id: cooled.id, outcome: null });
  });

  it('keeps an approved note waiting while the workspace has no sender, and sends it once one is set up', async () => {
    // The workspace's from-address is gone (and the server has no default): nothing can be sent.
    const settings = await db('email_settings').where({ workspace_id: ws }).first<{ from_email: string; from_name: string | null }>('from_email', 'from_name');
    await db('email_settings').where({ workspace_id: ws }).delete();
    await seedMirror(db, ws, [yearly('cus_patient', 16)]);
    await upsertCustomers(db, ws, [contact('cus_patient', 'Pat Patient')], new Date(), h.keyring);
    await setPlay('review', { daysBefore: 30, offers: false });
    await scanRenewals(scanDeps, new Date(), [ws]);
    const note = (await notes()).get('cus_patient')!;
    const state = () => temporal.client.workflow.getHandle(note.workflowId).query(renewalNoteStateQuery);
    await eventually(state, (s) => s.phase === 'waiting_for_review');
    const draft = (await draftOf(note))!;
    expect((await api.request('POST', `/workspaces/${ws}/drafts/${draft.id}/approve`, { token: member })).status).toBe(200);
    // Not failed: the draft stays approved and the note open, waiting for a sender.
    await eventually(state, (s) => s.phase === 'waiting_for_sender');
    expect((await draftOf(note))!.status).toBe('approved');
    expect((await notes()).get('cus_patient')!.outcome).toBeNull();
    expect(receiver.messages.some((m) => m.to.includes('cus_patient@example.com'))).toBe(false);

    const saved = await api.request('PUT', `/workspaces/${ws}/email-settings`, { token: owner, body: { fromEmail: settings.from_email, fromName: settings.from_name } });
    expect(saved.status).toBe(200);
    expect((saved.body as { workflowsNotified: number }).workflowsNotified).toBeGreaterThanOrEqual(1);
    await eventually(notes, (n) => n.get('cus_patient')!.outcome === 'sent');
    expect(receiver.messages.filter((m) => m.idempotencyKey === `draft:${draft.id}`)).toHaveLength(1);
  });

  it('keeps an approved note waiting while the provider refuses the sender, and sends it once the sender is put right', async () => {
    // The provider (the server's SendGrid here) has verified another address than the workspace's from-address.
    const settings = await db('email_settings').where({ workspace_id: ws }).first<{ from_email: string; from_name: string | null }>('from_email', 'from_name');
    receiver.verifiedSenders(['billing@verified.test']);
    try {
      await seedMirror(db, ws, [yearly('cus_refused', 17)]);
      await upsertCustomers(db, ws, [contact('cus_refused', 'Ray Refused')], new Date(), h.keyring);
      await setPlay('review', { daysBefore: 30, offers: false });
      await scanRenewals(scanDeps, new Date(), [ws]);
      const note = (await notes()).get('cus_refused')!;
      const state = () => temporal.client.workflow.getHandle(note.workflowId).query(renewalNoteStateQuery);
      await eventually(state, (s) => s.phase === 'waiting_for_review');
      const draft = (await draftOf(note))!;
      const refusedBefore = receiver.requests;
      expect((await api.request('POST', `/workspaces/${ws}/drafts/${draft.id}/approve`, { token: member })).status).toBe(200);
      // The provider was asked and said no; the draft is not failed and the customer not cooled down.
      await eventually(state, (s) => s.phase === 'waiting_for_sender');
      expect(receiver.requests).toBeGreaterThan(refusedBefore);
      expect((await draftOf(note))!.status).toBe('approved');
      expect((await notes()).get('cus_refused')!.outcome).toBeNull();

      // The owner verifies the workspace's address at the provider, then saves the settings as they were: that wakes the note.
      receiver.verifiedSenders(['billing@verified.test', settings.from_email]);
      const saved = await api.request('PUT', `/workspaces/${ws}/email-settings`, { token: owner, body: { fromEmail: settings.from_email, fromName: settings.from_name } });
      expect(saved.status).toBe(200);
      expect((saved.body as { workflowsNotified: number }).workflowsNotified).toBeGreaterThanOrEqual(1);
      await eventually(notes, (n) => n.get('cus_refused')!.outcome === 'sent');
      const sent = receiver.messages.filter((m) => m.idempotencyKey === `draft:${draft.id}`);
      expect(sent.map((m) => m.body.from.email)).toEqual([settings.from_email]);
    } finally {
      receiver.verifiedSenders(null);
      await api.request('PUT', `/workspaces/${ws}/email-settings`, { token: owner, body: { fromEmail: settings.from_email, fromName: settings.from_name } });
    }
  });

  it("reads a cancellation at the next period's end on the UTC calendar, whatever the session's time zone", async () => {
    // Quarterly, its period ending 15 August: the next ends 15 November, after New York's clocks go back.
    const end = new Date('2027-08-15T00:00:00Z');
    await seedMirror(db, ws, [
      new CustomerBuilder('cus_quarter')
        .price('price_quarter', 30_000, 'month', { recurring_interval_count: 3 })
        .subscription('sub_cus_quarter', { items: ['price_quarter'], current_period_start: new Date('2027-05-15T00:00:00Z'), current_period_end: end, cancel_at: new Date('2027-11-15T00:00:00Z') })
        .build(),
    ]);
    for (const zone of ['UTC', 'America/New_York', 'Pacific/Auckland']) {
      const state = await db.transaction(async (trx) => {
        await trx.raw(`set local timezone = '${zone}'`);
        return renewalState(trx, ws, 'sub_cus_quarter', end);
      });
      expect(state, zone).toBe('renewing');
    }
    // A day earlier is a stub in every zone.
    await db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_cus_quarter' }).update({ cancel_at: new Date('2027-11-14T00:00:00Z') });
    expect(await renewalState(db, ws, 'sub_cus_quarter', end)).toBe('not_renewing');
  });

  it("takes a workspace's own note templates; previews never carry the reviewer's risk", async () => {
    const listed = await api.request('GET', `/workspaces/${ws}/templates/renewal`, { token: viewer });
    expect((listed.body as { templates: { key: string }[] }).templates.map((t) => t.key)).toEqual(['plain', 'save', 'upgrade']);
    const scored = await api.request('PUT', `/workspaces/${ws}/templates/renewal/save`, { token: owner, body: { subject: 'Renewal', html: '<p>{{ risk.score }}</p>', text: 't' } });
    expect(scored.status).toBe(400);
    const preview = await api.request('POST', `/workspaces/${ws}/templates/preview`, { token: member, body: { play: 'renewal', templateKey: 'save' } });
    expect(preview.status).toBe(200);
    expect((preview.body as { subject: string }).subject).toBe('Your Acme Analytics plan renews on 15 January 2027');
    expect((preview.body as { facts: object }).facts).not.toHaveProperty('risk');
    expect((preview.body as { text: string }).text).toContain('you could renew on Starter instead, at $290.00 per year');
    // The price can be unknown (null): a note that prints it bare is refused, one that guards it is taken.
    const bare = await api.request('PUT', `/workspaces/${ws}/templates/renewal/plain`, { token: owner, body: { subject: 'Renewal', html: '<p>{{ plan.price | money }}</p>', text: 'At {{ plan.price | money }}' } });
    expect(bare.status).toBe(400);
    expect(errorOf(bare.body)).toMatch(/money: no amount here/);
    const guarded = { subject: 'Renewal', html: '<p>{% if plan.price %}{{ plan.price | money }}{% endif %}</p>', text: '{% if plan.price %}At {{ plan.price | money }}{% else %}Renews{% endif %}' };
    expect((await api.request('PUT', `/workspaces/${ws}/templates/renewal/plain`, { token: owner, body: guarded })).status).toBe(200);
    expect((await api.request('DELETE', `/workspaces/${ws}/templates/renewal/plain`, { token: owner })).status).toBe(200);
  });
});
