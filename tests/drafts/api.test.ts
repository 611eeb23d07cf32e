import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { createApiToken } from '../../db/api-tokens';
import { listAudit, verifyAuditChain } from '../../db/audit';
import { createDraftOnce } from '../../db/drafts';
import { closeDunningCase, openDunningCase } from '../../db/dunning-cases';
import { storeProductSignals } from '../../db/product-signals';
import { storeRedactionSetting } from '../../db/redaction';
import { insertWorkspace } from '../../db/workspaces';
import { ROLES, type Role } from '../../domain/roles';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import type { Simulator } from '../../sim/server';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { simulatorReader, simulatorWithOpenInvoice } from '../email/play-fixtures';
import { createDunningActivities } from '../../activities/dunning';
import { pino } from 'pino';

type Json = Record<string, unknown>;

/** The drafts and plays API against real Postgres, Temporal and the Stripe simulator. */
describe('drafts, play settings, templates, paid out of band and recovery API', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_plays_api';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let sim: Simulator;
  let open: Stripe.Invoice;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    database = await freshDatabase();
    ({ sim, open } = await simulatorWithOpenInvoice());
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Acme Analytics', webhookSecret: 'whsec_p', stripeKey: sim.accounts[0]!.restrictedKey });
    for (const role of ROLES) tokens[role] = (await createApiToken(database.db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    api = await startApi(database.db, keyring, { stripe: new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 0 } }) });
  });

  afterAll(async () => {
    await api?.close();
    await sim?.stop();
    await database?.drop();
  });

  const call = (role: Role, method: string, path: string, body?: unknown) => api.request(method, `/workspaces/${ws}${path}`, { token: tokens[role], ...(body === undefined ? {} : { body }) });
  const errorOf = (r: { body: unknown }) => (r.body as { error: { message: string; details?: { problems?: Json[] } } }).error;

  async function newDraft(step: string) {
    const { draft } = await createDraftOnce(
      database.db,
      {
        workspaceId: ws,
        customerId: 'cus_api',
        play: 'dunning',
        step,
        workflowId: `dunning:${ws}:in_apitest`,
        subjectRef: 'in_apitest',
        templateKey: 'friendly',
        status: 'drafted',
        toAddress: 'jo@customer.test',
        subject: 'Your payment did not go through',
        bodyHtml: '<p>x</p>',
        bodyText: 'x',
        facts: { invoice: { amountDue: { amount: 4900, currency: 'usd' } } },
        scheduledFor: new Date(),
      },
      'system:dunning',
    );
    return draft;
  }

  it('play settings: defaults, owner-only changes, validation naming the field', async () => {
    const initial = await call('viewer', 'GET', '/plays/dunning/settings');
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ mode: 'review', autoPercentage: null, config: { steps: [{ day: 0 }, { day: 3 }, { day: 7 }, { day: 14 }, { day: 16 }] } });
    expect((await call('finance', 'PUT', '/plays/dunning/settings', { mode: 'auto' })).status).toBe(403);
    const bad = await call('owner', 'PUT', '/plays/dunning/settings', { mode: 'sometimes' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).message).toMatch(/mode/);
    expect((await call('owner', 'PUT', '/plays/dunning/settings', { mode: 'review', autoPercentage: 20 })).status).toBe(400);
    const dup = await call('owner', 'PUT', '/plays/dunning/settings', { mode: 'auto', config: { steps: [{ day: 1, tone: 'friendly' }, { day: 1, tone: 'final' }] } });
    expect(dup.status).toBe(400);
    expect(errorOf(dup).message).toMatch(/same day/);
    // Steps sent out of order are stored in day order, the order they go out and are numbered in.
    const ok = await call('owner', 'PUT', '/plays/dunning/settings', { mode: 'auto', autoPercentage: 25, config: { steps: [{ day: 5, tone: 'final' }, { day: 0, tone: 'friendly' }] } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ mode: 'auto', autoPercentage: 25, config: { steps: [{ day: 0, tone: 'friendly' }, { day: 5, tone: 'final' }], quietHoursBeforeRetry: 12 } });
    // Who changed it: named for finance and owners, not for the roles below them.
    expect((await call('viewer', 'GET', '/plays/dunning/settings')).body).toMatchObject({ config: { steps: [{ day: 0, tone: 'friendly' }, { day: 5, tone: 'final' }] }, updatedByName: 'an API token' });
    expect((await call('finance', 'GET', '/plays/dunning/settings')).body).toMatchObject({ updatedByName: 'API token "owner"' });
    const audit = await listAudit(database.db, ws, { action: 'play_settings.updated' });
    expect(audit[0]?.actor).toMatch(/^token:/);
  });

  it("templates: every built-in template could be stored as an override, null facts and all", async () => {
    for (const play of ['dunning', 'churn', 'expansion', 'renewal']) {
      const listed = await call('viewer', 'GET', `/templates/${play}`);
      const templates = (listed.body as { templates: { key: string; builtIn: object }[] }).templates;
      expect(templates.length).toBeGreaterThan(0);
      for (const t of templates) {
        const stored = await call('owner', 'PUT', `/templates/${play}/${t.key}`, t.builtIn);
        expect(stored.status, `${play}/${t.key}: ${JSON.stringify(stored.body)}`).toBe(200);
        expect((await call('owner', 'DELETE', `/templates/${play}/${t.key}`)).status).toBe(200);
      }
    }
    // One printing a fact that can be null, bare, is refused: drafts for the customers without it would give way to the built-in.
    const bare = await call('owner', 'PUT', '/templates/renewal/plain', { subject: 'Your {{ plan.name }} plan renews', html: '<p>Renews</p>', text: 'Renews' });
    expect(bare.status).toBe(400);
    expect(errorOf(bare).message).toMatch(/^invalid template: subject line 1, column \d+: nothing to print here: this fact is null for this customer/);
    const dunning = await call('owner', 'PUT', '/templates/dunning/firm', { subject: 'Invoice {{ invoice.number }}', html: '<p>Pay</p>', text: 'Pay' });
    expect(dunning.status).toBe(400);
    // A success call's booking link may be unset, and a renewal save may fold in another offer than a downgrade.
    expect((await call('owner', 'PUT', '/templates/churn/success_call', { subject: 'A call', html: '<a href="{{ intervention.bookingUrl }}">Book</a>', text: 'Book' })).status).toBe(400);
    expect((await call('owner', 'PUT', '/templates/renewal/save', { subject: 'Renewal', html: '<p>Renew on {{ intervention.planName }}</p>', text: 'Renew' })).status).toBe(400);
  });

  it('templates: a bad override is rejected with its line and problem; a good one is used by the preview', async () => {
    const bad = await call('owner', 'PUT', '/templates/dunning/firm', { subject: 'Hi {{ customer.name }}', html: '<p>\n{% if plan %}oops', text: 'Pay {{ invoice.amountDew | money }}' });
    expect(bad.status).toBe(400);
    const problems = errorOf(bad).details?.problems ?? [];
    expect(problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ part: 'html', line: 2 }), expect.objectContaining({ part: 'text', line: 1, message: expect.stringMatching(/amountDew/) as unknown })]),
    );
    const good = { subject: '{{ customer.name }}, {{ invoice.amountDue | money }} is overdue', html: '<p>Pay at {{ payUrl }}</p>', text: 'Pay at {{ payUrl }}' };
    expect((await call('member', 'PUT', '/templates/dunning/firm', good)).status).toBe(403);
    expect((await call('owner', 'PUT', '/templates/dunning/firm', good)).status).toBe(200);
    // An amount printed other than through money would escape the drafts' redaction: refused when stored.
    for (const printed of ['{{ invoice.amountDue.amount }}', '{{ invoice.amountDue.amount | divided_by: 100.0 }}', '{{ plan.monthlyValue.amount | times: 12 | divided_by: 100 }}']) {
      const raw = await call('owner', 'PUT', '/templates/dunning/firm', { ...good, text: `Due: ${printed}` });
      expect(raw.status, printed).toBe(400);
      expect(errorOf(raw).message).toMatch(/prints an amount other than through the money filter/);
    }
    const list = await call('viewer', 'GET', '/templates/dunning');
    expect((list.body as { templates: { key: string; overridden: boolean }[] }).templates.find((t) => t.key === 'firm')?.overridden).toBe(true);

    const customer = sim.account().customers.get(typeof open.customer === 'string' ? open.customer : open.customer!.id)!;
    const preview = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id });
    expect(preview.status).toBe(200);
    const body = preview.body as { subject: string; text: string; to: string | null };
    expect(body.subject).toContain(customer.name ?? 'there');
    expect(body.subject).toMatch(/\d+\.\d\d is overdue|is overdue/);
    expect(body.text).toContain(open.hosted_invoice_url!);
    expect(body.to).toBe(customer.email);
    // The customer's amount is revenue: a member reads it hidden in the text, finance reads it.
    expect(body.subject).toContain('[amount hidden] is overdue');
    const financeView = (await call('finance', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id })).body as { subject: string };
    expect(financeView.subject).toMatch(/\d\.\d\d is overdue$/);
    // A template of the member's own that prints the amount's number, not through `money`, reads it hidden too.
    const rawTemplate = { subject: 'Due: {{ invoice.amountDue.amount }} {{ invoice.amountDue.currency }}', html: '<p>{{ invoice.amountDue.amount | plus: 0 }}</p>', text: '{{ invoice.amountDue | money }}' };
    const raw = (await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: rawTemplate })).body as { subject: string; html: string; text: string };
    expect(raw.subject).toBe(`Due: [amount hidden] ${open.currency}`);
    expect(raw.html).not.toContain(String(open.amount_due));
    expect(raw.text).toBe('[amount hidden]');
    const rawAsFinance = (await call('finance', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: rawTemplate })).body as { subject: string };
    expect(rawAsFinance.subject).toBe(`Due: ${open.amount_due} ${open.currency}`);

    const broken = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: { subject: '{{ x', html: 'x', text: 'x' } });
    expect(broken.status).toBe(400);
    expect(errorOf(broken).details?.problems?.[0]).toMatchObject({ part: 'subject', line: 1 });

    // The customer's usage, where the workspace hides the product's activity from the caller: never given to the template, so no filter shows it.
    await storeProductSignals(database.db, ws, [{ type: 'usage', id: 'u-preview', customerId: customer.id, at: new Date(Date.now() - 86_400_000), metric: 'reports_generated', quantity: 1240 }]);
    const usageTemplate = { subject: 'Usage', html: '<p>{% if usage %}{{ usage.summary | upcase }}{% endif %}</p>', text: '{% if usage %}{{ usage.summary | upcase }}{% else %}no usage{% endif %}' };
    await storeRedactionSetting(database.db, ws, { fields: ['activity'], visibleTo: 'finance' });
    try {
      const asMember = (await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: usageTemplate })).body as { text: string; facts: { usage: unknown } };
      expect(asMember.text).toBe('no usage');
      expect(asMember.facts.usage).toBeNull();
      const asFinance = (await call('finance', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: usageTemplate })).body as { text: string };
      expect(asFinance.text).toBe('1,240 REPORTS GENERATED IN THE LAST 30 DAYS');
      // Printed bare, the usage hidden from the member fails the preview, which says it is hidden rather than missing.
      const bare = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: { ...usageTemplate, text: 'Used: {{ usage.summary }}' } });
      expect(bare.status).toBe(400);
      expect(errorOf(bare).message).toMatch(/nothing to print here.*\(usage is hidden from your role, so a preview gives the template none: write it inside \{% if usage %\}\)$/);
      // A failure for another fact says nothing of the usage.
      const otherBare = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', customerId: customer.id, invoiceId: open.id, template: { ...usageTemplate, text: 'Due {{ invoice.dueOn }}' } });
      expect(otherBare.status).toBe(400);
      expect(errorOf(otherBare).message).toMatch(/dueOn/);
      expect(errorOf(otherBare).message).not.toContain('usage is hidden');
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }

    // Without a customer: the imaginary one of this workspace, at the step the workspace's schedule (two emails, set above) gives the template.
    const stepTemplate = { subject: '{{ customer.name }} of {{ company.name }}: email {{ step.number }} of {{ step.total }}{% if step.isFinal %}, the last{% endif %}', html: '<p>{{ payUrl }}</p>', text: '{{ payUrl }}' };
    const example = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'final', template: stepTemplate });
    expect(example.status).toBe(200);
    const wsName = (await database.db('workspaces').where({ id: ws }).first<{ name: string }>('name')).name;
    expect(example.body).toMatchObject({ to: 'jordan@example.com', subject: `Jordan Example of ${wsName}: email 2 of 2, the last`, text: 'https://invoice.stripe.com/i/example' });
    const stored = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm' });
    expect((stored.body as { subject: string }).subject).toBe('Jordan Example, $99.00 is overdue');
    const orphanInvoice = await call('member', 'POST', '/templates/preview', { play: 'dunning', templateKey: 'firm', invoiceId: open.id });
    expect(orphanInvoice.status).toBe(400);
    expect(errorOf(orphanInvoice).message).toContain('invoiceId needs the customerId it belongs to');
  });

  it('drafts: list and read (money hidden below finance), approve, edit, discard, each audited with its actor', async () => {
    const a = await newDraft('step-0');
    const b = await newDraft('step-1');
    const listed = await call('viewer', 'GET', '/drafts?play=dunning&status=drafted&customer=cus_api');
    expect(listed.status).toBe(200);
    const drafts = (listed.body as { drafts: { id: string; facts: Json }[] }).drafts;
    expect(drafts.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
    expect(drafts[0]!.facts).toEqual({ invoice: { amountDue: { amount: null, currency: 'usd' } } });
    const read = await call('finance', 'GET', `/drafts/${a.id}`);
    expect((read.body as { draft: { facts: Json } }).draft.facts).toEqual({ invoice: { amountDue: { amount: 4900, currency: 'usd' } } });
    expect((await call('viewer', 'GET', '/drafts?status=bogus')).status).toBe(400);

    expect((await call('viewer', 'POST', `/drafts/${a.id}/approve`)).status).toBe(403);
    const approved = await call('member', 'POST', `/drafts/${a.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ draft: { status: 'approved' }, workflowNotified: false });

    expect((await call('member', 'POST', `/drafts/${b.id}/edit`, {})).status).toBe(400);
    const edited = await call('member', 'POST', `/drafts/${b.id}/edit`, { subject: 'A friendlier subject' });
    expect(edited.body).toMatchObject({ draft: { status: 'edited', subject: 'A friendlier subject', version: 2 } });
    const discarded = await call('member', 'POST', `/drafts/${b.id}/discard`, { endSequence: true });
    expect(discarded.body).toMatchObject({ draft: { status: 'discarded' } });
    const again = await call('member', 'POST', `/drafts/${b.id}/approve`);
    expect(again.status).toBe(409);
    expect(errorOf(again).message).toMatch(/is discarded; it cannot become approved/);
    expect((await call('member', 'GET', '/drafts/00000000-0000-0000-0000-000000000000')).status).toBe(404);

    // The workflow learns "discard and stop" from the database too, should the signal be lost.
    const acts = createDunningActivities({ db: database.db, stripe: simulatorReader(sim), log: pino({ level: 'silent' }) });
    const step = { index: 1, tone: 'helpful' as const, at: new Date().toISOString(), movedForRetry: false };
    const prepared = await acts.prepareDunningStep({ workspaceId: ws, customerId: 'cus_api', invoiceId: 'in_apitest', workflowId: `dunning:${ws}:in_apitest`, step, totalSteps: 5 });
    expect(prepared).toMatchObject({ kind: 'ready', draft: { id: b.id, status: 'discarded', endSequence: true } });

    const trail = (await listAudit(database.db, ws, { targetId: b.id })).reverse();
    expect(trail.map((e) => e.action)).toEqual(['draft.created', 'draft.edited', 'draft.discarded']);
    expect(trail[1]!.actor).toMatch(/^token:/);
    expect(trail[1]!.before).toMatchObject({ subject: 'Your payment did not go through' });
    expect(trail[1]!.after).toMatchObject({ subject: 'A friendlier subject' });
    expect(await verifyAuditChain(database.db, ws)).toBeNull();
  });

  it('marks an invoice paid out of band in Stripe (finance and up), audited; a second time is refused', async () => {
    expect((await call('member', 'POST', `/invoices/${open.id}/paid-out-of-band`)).status).toBe(403);
    expect((await call('finance', 'POST', '/invoices/not-an-invoice/paid-out-of-band')).status).toBe(400);
    const paid = await call('finance', 'POST', `/invoices/${open.id}/paid-out-of-band`);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ invoice: { id: open.id, status: 'paid' }, dunningStopped: false });
    expect(sim.account().invoices.get(open.id)?.status).toBe('paid');
    const audit = await listAudit(database.db, ws, { action: 'invoice.paid_out_of_band' });
    expect(audit[0]).toMatchObject({ targetId: open.id, before: { status: 'open' }, after: { status: 'paid' } });
    // Stripe tells it with invoice.paid alone, no subscribed event: a re-read of the invoice is queued for the mirror.
    const reread = await database.db('webhook_inbox').where({ workspace_id: ws, type: 'wysera.reread' }).select('event_id', 'customer_id', 'object_id', 'livemode', 'payload');
    expect(reread).toEqual([
      { event_id: `reread_${open.id}_paid`, customer_id: open.customer, object_id: open.id, livemode: false, payload: { object: 'invoice', id: open.id, noticed: 'marked_paid_out_of_band' } },
    ]);
    const second = await call('finance', 'POST', `/invoices/${open.id}/paid-out-of-band`);
    expect(second.status).toBe(409);
    expect(errorOf(second).message).toMatch(/already paid/);
  });

  it('paying out of band needs a Stripe key for the workspace (409) and an invoice Stripe has (404)', async () => {
    const keyless = 'ws_drafts_keyless';
    await insertWorkspace(database.db, keyring, { id: keyless, name: 'Webhook only', webhookSecret: 'whsec_k' });
    const { token } = await createApiToken(database.db, { workspaceId: keyless, role: 'finance', name: 'finance', createdBy: 'test' });
    const noKey = await api.request('POST', `/workspaces/${keyless}/invoices/in_anything/paid-out-of-band`, { token });
    expect(noKey.status).toBe(409);
    expect(errorOf(noKey).message).toBe(`the workspace has no Stripe key yet: an owner connects one with PUT /workspaces/${keyless}/stripe-key`);
    const missing = await call('finance', 'POST', '/invoices/in_nosuchinvoice/paid-out-of-band');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).message).toMatch(/no invoice in_nosuchinvoice/);
  });

  it('recovery: amounts, rate with cancellations in the denominator, per step, median time; amounts hidden from viewers', async () => {
    const t0 = new Date('2026-03-01T00:00:00Z');
    const hours = (h: number) => new Date(t0.getTime() + h * 3_600_000);
    const cases: [string, number, string | null, number | null, number | null][] = [
      ['in_r1', 10_000, 'recovered', 0, 24],
      ['in_r2', 5_000, 'paid_out_of_band', 1, 96],
      ['in_r3', 5_000, 'invoice_closed', 2, 300],
      ['in_r4', 20_000, 'subscription_deleted', null, 10],
      ['in_r5', 10_000, null, 0, null],
    ];
    for (const [invoiceId, amount, outcome, lastStep, endedAfter] of cases) {
      await openDunningCase(database.db, { workspaceId: ws, invoiceId, customerId: 'cus_r', workflowId: `dunning:${ws}:${invoiceId}`, currency: 'usd', amountDue: amount, failedAt: t0 });
      if (outcome) {
        await closeDunningCase(database.db, ws, invoiceId, { outcome: outcome as 'recovered', stepsSent: lastStep === null ? [] : Array.from({ length: lastStep + 1 }, (_, k) => k), endedAt: hours(endedAfter!) });
      }
    }
    const r = await call('finance', 'GET', '/dunning/recovery?from=2026-02-01&to=2026-04-01');
    expect(r.status).toBe(200);
    const [usd] = (r.body as { currencies: Json[] }).currencies;
    expect(usd).toMatchObject({ currency: 'usd', cases: 5, running: 1, recoveredCases: 2, cancelledCases: 2, failedAmount: 50_000, recoveredAmount: 15_000, recoveryRate: 0.3, caseRecoveryRate: 0.4, medianHoursToRecover: 60 });
    expect(usd!.perStep).toEqual([
      { step: null, reached: 5, recovered: 0, recoveredAmount: 0, rate: 0 },
      { step: 0, reached: 3, recovered: 1, recoveredAmount: 10_000, rate: 1 / 3 },
      { step: 1, reached: 2, recovered: 1, recoveredAmount: 5_000, rate: 0.5 },
      { step: 2, reached: 1, recovered: 0, recoveredAmount: 0, rate: 0 },
    ]);
    const v = await call('viewer', 'GET', '/dunning/recovery?from=2026-02-01&to=2026-04-01');
    expect((v.body as { currencies: Json[] }).currencies[0]).toMatchObject({ failedAmount: null, recoveredAmount: null, recoveryRate: 0.3 });
    expect((await call('viewer', 'GET', '/dunning/recovery?from=2026-04-01&to=2026-02-01')).status).toBe(400);
  });
});
