import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recomputeWorkspace } from '../../activities/analytics';
import { upsertExchangeRates } from '../../db/analytics';
import { createApiToken } from '../../db/api-tokens';
import { closeChurnSave, openChurnSaves } from '../../db/churn-saves';
import { expansionPitchRows, openExpansionPitches } from '../../db/expansion-pitches';
import { openRenewalNotes, renewalNoteRows } from '../../db/renewal-notes';
import { closeDunningCase, openDunningCase } from '../../db/dunning-cases';
import { createDraftOnce, findDraft, transitionDraft, type Draft } from '../../db/drafts';
import { deferInboxEvent, insertInboxEvent } from '../../db/inbox';
import { findMember, insertMember } from '../../db/members';
import { getEmailSettings, getPlaySettings, listTemplateOverrides, putPlaySettings } from '../../db/play-settings';
import { finishSend, reserveSend, sendKeyOf } from '../../db/sends';
import { effectiveMapping, listOverrides } from '../../db/product-mapping';
import { PRICE_TERM_COLUMNS, priceTerms, type PriceTermRow } from '../../db/price-terms';
import { storeRedactionSetting } from '../../db/redaction';
import { finishSyncRun, latestSyncRun, recordPage } from '../../db/sync';
import { upsertCustomers, upsertInvoices, upsertPrices, upsertProducts, upsertSubscriptions } from '../../db/mirror';
import { findOrCreateUser } from '../../db/users';
import { insertWorkspace, secretContext } from '../../db/workspaces';
import { minorUnitsPer } from '../../domain/currency-units';
import { DEFAULT_DUNNING_SCHEDULE } from '../../domain/dunning-schedule';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import type { Role } from '../../domain/roles';
import { periodAmount } from '../../domain/price-amount';
import { renderTemplate } from '../../domain/templates';
import { generateKeySpec, parseKeyring, seal } from '../../platform/crypto';
import { createTemporalClient } from '../../platform/temporal';
import { syncWorkflowId } from '../../workflows/ids';
import { buildPrice, buildProduct, decimal } from '../../sim/catalog';
import { generateAccount } from '../../sim/generator';
import { startSimulator, type Simulator } from '../../sim/server';
import { startEmailReceiver } from '../../sim/email-receiver';
import { createSendGridSender } from '../../email/sendgrid';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { startApi, type TestApi } from '../helpers/api';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';
import { freshDatabase } from '../helpers/db';

/**
 * The web UI in Debian's chromium against the real API and Postgres, with a simulated
 * Stripe account's history in the mirror: every page with real figures for finance,
 * "Hidden" and no amount anywhere for viewers and members, draft decisions through
 * the UI, CSRF and logout. Screenshots land in tests/browser/artifacts/.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, 'artifacts');
const WS = 'ws_ui';
const PASSWORD = 'correct horse battery staple';
const EMAIL: Record<Role, string> = { owner: 'owner@ui.example', finance: 'fin@ui.example', member: 'member@ui.example', viewer: 'viewer@ui.example' };
/** A formatted amount in any of the simulator's currencies ("$1,234.00", "€12", "-£3.50"). */
const AMOUNT = /[$€£]\s?-?\d/;

describe('web UI in a browser', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let browser: Browser;
  let sim: Simulator;
  const drafts: Draft[] = [];
  /** The simulated account's customers' names and emails, by id. */
  const contacts = new Map<string, { name: string | null; email: string | null }>();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the browser tests drive Debian's chromium; install it with "apt-get install -y chromium"`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    database = await freshDatabase();
    const { db } = database;
    await insertWorkspace(db, keyring, { id: WS, name: 'Acme Analytics', webhookSecret: 'whsec_ui' });

    // Two years of a simulated SaaS account, written through the sync's own upserts.
    const account = generateAccount({ seed: 'ui', customers: 150, months: 24 });
    const stateAt = new Date(account.now * 1000);
    await upsertExchangeRates(db, 'usd', [
      { currency: 'eur', on: '2000-01-01', rate: 1.08 },
      { currency: 'gbp', on: '2000-01-01', rate: 1.27 },
    ]);
    await upsertProducts(db, WS, account.products.rows, stateAt);
    await upsertPrices(db, WS, account.prices.rows, stateAt);
    await upsertCustomers(db, WS, account.customers.rows, stateAt, keyring);
    for (const c of account.customers.rows) contacts.set(c.id, { name: c.name ?? null, email: c.email ?? null });
    await upsertSubscriptions(db, WS, account.subscriptions.rows, stateAt);
    await upsertInvoices(db, WS, account.invoices.rows, stateAt);
    await recomputeWorkspace(db, WS);

    // Dunning: three failed invoices in the last weeks, two of them recovered.
    const day = 86_400_000;
    for (const [i, outcome] of (['recovered', 'recovered', null] as const).entries()) {
      const invoiceId = `in_ui_${i}`;
      const failedAt = new Date(Date.now() - (20 - i * 5) * day);
      await openDunningCase(db, { workspaceId: WS, invoiceId, customerId: `cus_ui_${i}`, workflowId: `dunning:${WS}:${invoiceId}`, currency: 'usd', amountDue: 4900 * (i + 1), failedAt });
      if (outcome) await closeDunningCase(db, WS, invoiceId, { outcome, stepsSent: Array.from({ length: i + 1 }, (_, k) => k), endedAt: new Date(failedAt.getTime() + (i + 1) * day) });
    }

    // Two dunning drafts waiting for review, rendered from the built-in templates.
    for (const [i, tone] of (['friendly', 'firm'] as const).entries()) {
      const facts = { ...EXAMPLE_DUNNING_FACTS, invoice: { ...EXAMPLE_DUNNING_FACTS.invoice, id: `in_ui_${i}` }, step: { ...EXAMPLE_DUNNING_FACTS.step, index: i, number: i + 1, tone } };
      const rendered = renderTemplate(DEFAULT_DUNNING_TEMPLATES[tone], facts);
      const { draft } = await createDraftOnce(
        db,
        { workspaceId: WS, customerId: `cus_ui_${i}`, play: 'dunning', step: `step-${i}`, workflowId: `dunning:${WS}:in_ui_${i}`, subjectRef: `in_ui_${i}`, templateKey: tone, status: 'drafted', toAddress: `customer${i}@example.com`, subject: rendered.subject, bodyHtml: rendered.html, bodyText: rendered.text, facts, scheduledFor: null },
        'system:dunning',
      );
      drafts.push(draft);
    }

    for (const [role, email] of Object.entries(EMAIL) as [Role, string][]) {
      const { user } = await findOrCreateUser(db, keyring, email, PASSWORD);
      await insertMember(db, keyring, { workspaceId: WS, userId: user.id, role, addedBy: 'test' });
    }

    // A user in two workspaces (viewer here, finance in the other) starts at the picker.
    await insertWorkspace(db, keyring, { id: 'ws_ui_two', name: 'Beta Labs', webhookSecret: 'whsec_ui_two' });
    const { user: two } = await findOrCreateUser(db, keyring, 'two@ui.example', PASSWORD);
    await insertMember(db, keyring, { workspaceId: WS, userId: two.id, role: 'viewer', addedBy: 'test' });
    await insertMember(db, keyring, { workspaceId: 'ws_ui_two', userId: two.id, role: 'finance', addedBy: 'test' });

    // A Stripe account to connect on the Stripe page; syncs started there go to a task queue no worker polls.
    sim = await startSimulator({ seed: 'ui-stripe', customers: 5, months: 2, port: 0 });
    api = await startApi(db, keyring, { stripe: new StripeClients({ endpoint: endpointOf(sim.url) }), taskQueue: 'ui-no-worker' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await sim?.stop();
    await database?.drop();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  async function loggedIn(role: keyof typeof EMAIL): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${api.url}/`);
    await page.waitForURL(/\/login/);
    await page.fill('input[name=email]', EMAIL[role]);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    // One membership: straight to that workspace's dashboard.
    await page.waitForURL(`${api.url}/w/${WS}/dashboard`);
    await page.waitForSelector('[data-testid=kpi-mrr]');
    return { context, page };
  }

  /** The text of the page's main content once it has loaded (no "Loading…" left). */
  async function contentText(page: Page): Promise<string> {
    await page.waitForSelector('body[data-ready]');
    return page.innerText('main');
  }

  it('refuses a wrong password on the login page and says so', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${api.url}/w/${WS}/dashboard`);
    await page.waitForURL(/\/login\?next=/);
    await page.fill('input[name=email]', EMAIL.finance);
    await page.fill('input[name=password]', 'not the password at all');
    await page.click('button[type=submit]');
    await expect(page.waitForSelector('.error', { timeout: 10_000 })).resolves.toBeTruthy();
    expect(await page.innerText('.error')).toBe('Wrong email or password.');
    await shot(page, 'login-error');
    await context.close();
  });

  it('shows finance every figure: dashboard, charts, cohorts, recovery, audit; approves a draft', async () => {
    const { context, page } = await loggedIn('finance');
    const dashboard = await contentText(page);
    expect(dashboard).not.toContain('Hidden');
    expect(await page.innerText('[data-testid=kpi-mrr] .kpi-value')).toMatch(/^\$[\d,]+\.\d{2}$/);
    expect(await page.innerText('[data-testid=kpi-arpa] .kpi-value')).toMatch(/^\$[\d,]+\.\d{2}$/);
    expect(await page.innerText('[data-testid=movement-new] .movement-value')).toMatch(/^(\+\$[\d,]+\.\d{2}|\$0\.00)$/);
    // The MRR line chart: one point per month with its figure on hover, month names on the axis.
    expect(await page.locator('svg.chart circle.mrr').count()).toBe(12);
    expect(await page.locator('svg.chart circle.mrr title').first().textContent()).toMatch(/^[A-Z][a-z]{2} '\d{2}: \$[\d,]+\.\d{2}$/);
    expect(await page.locator('svg.chart .axis.x text').allTextContents()).toContain(new Intl.DateTimeFormat('en-US', { month: 'short', timeZone: 'UTC' }).format(new Date()));
    expect(await page.locator('svg.chart rect.bar.new').count()).toBeGreaterThan(0);
    expect(await page.locator('table.heatmap tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('table.heatmap td.cell').first().innerText()).toMatch(/^\d+%$/);
    // Who moved this month: the drill-down's customers with their changes.
    expect(await page.locator('.drilldown tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('.drilldown tbody tr td.num').first().innerText()).toMatch(/^[+-]?\$[\d,]+\.\d{2}$/);
    // Each mover by name, with email and Stripe id beneath.
    const mover = page.locator('.drilldown tbody tr td.customer').first();
    const moverId = /cus_\w+$/.exec(await mover.locator('.small').innerText())![0];
    const contact = contacts.get(moverId)!;
    expect(await mover.innerText()).toBe(`${contact.name}\n${contact.email} · ${moverId}`);
    const moverHref = await mover.locator('a.customer-link').getAttribute('href');
    expect(moverHref).toBe(`/w/${WS}/customers/${moverId}`);
    await shot(page, 'finance-dashboard');

    // CSV export through the session cookie.
    const csvHref = await page.locator('.exports a', { hasText: 'mrr.csv' }).getAttribute('href');
    const csv = await page.evaluate(async (href) => (await fetch(href!, { credentials: 'same-origin' })).text(), csvHref);
    expect(csv.split('\n')[0]).toContain('mrr');
    expect(csv).toMatch(/\n\d{4}-\d{2},\d+,/);

    await page.click('a[data-page=recovery]');
    const recovery = await contentText(page);
    expect(await page.innerText('[data-testid=failed-usd] .kpi-value')).toBe('$294.00');
    expect(await page.innerText('[data-testid=recovered-usd] .kpi-value')).toBe('$147.00');
    expect(recovery).not.toContain('Hidden');
    await shot(page, 'finance-recovery');

    await page.click('a[data-page=drafts]');
    await contentText(page);
    expect(await page.locator('table.drafts tbody tr').count()).toBe(2);
    // Steps as people count them: the drafts of step-1 and step-0 are a dunning's second and first emails.
    expect(await page.locator('table.drafts tbody tr td:nth-child(3)').allTextContents()).toEqual(['Dunning · email 2', 'Dunning · email 1']);
    await shot(page, 'finance-drafts');
    await page.click(`a[href="/w/${WS}/drafts/${drafts[0]!.id}"]`);
    const detail = await contentText(page);
    expect(detail).toContain(drafts[0]!.subject);
    expect(detail).toContain('$99.00');
    expect(detail).toContain(`Dunning · email ${Number(drafts[0]!.step.slice('step-'.length)) + 1} · to ${drafts[0]!.toAddress}`);
    await shot(page, 'finance-draft');
    await page.click('button:has-text("Approve")');
    await page.waitForSelector('.success');
    expect(await page.textContent('.page-head .badge')).toBe('approved');
    expect((await findDraft(database.db, WS, drafts[0]!.id))?.status).toBe('approved');

    // A write without the CSRF token is refused even with the session cookie.
    const refused = await page.evaluate(async (p) => {
      const res = await fetch(p, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' });
      return res.status;
    }, `/workspaces/${WS}/drafts/${drafts[1]!.id}/approve`);
    expect(refused).toBe(403);
    expect((await findDraft(database.db, WS, drafts[1]!.id))?.status).toBe('drafted');

    await page.click('a[data-page=audit]');
    await contentText(page);
    const audit = await page.innerText('table.audit');
    expect(audit).toContain('draft.approved');
    // Who acted, named: finance itself, and the dunning play that wrote the drafts.
    expect(await page.locator('table.audit td.actor').allTextContents()).toEqual(['you (fin@ui.example)', 'Wysera (dunning)', 'Wysera (dunning)']);
    await shot(page, 'finance-audit');

    // The customers, biggest payers first; found by email (any case).
    await page.click('a[data-page=customers]');
    await contentText(page);
    const mrrTexts = await page.locator('table.customers tbody tr td:nth-child(2)').allTextContents();
    expect(mrrTexts.length).toBe(50);
    for (const t of mrrTexts) expect(t).toMatch(/^\$[\d,]+\.\d{2}$/);
    const mrrs = mrrTexts.map((t) => Number(t.replace(/[^\d.]/g, '')));
    expect(mrrs).toEqual([...mrrs].sort((a, b) => b - a));
    expect(await page.innerText('.customers-count')).toMatch(/^1–50 of \d{3}$/);
    await shot(page, 'finance-customers');
    await page.fill('input[name=q]', contact.email!.toUpperCase());
    await page.click('form.customer-search button[type=submit]');
    await page.waitForSelector(`table.customers tbody tr[data-customer="${moverId}"]`);
    expect(await page.locator('table.customers tbody tr').count()).toBe(1);
    expect(await page.innerText('.customers-count')).toBe('1–1 of 1');

    // The product reports a customer's usage and logins through the signals API (a member's
    // token): one whose billing gives no reason for risk (one live subscription, active, not
    // set to end, no dunning, no contraction lately), so their score is the signals' alone.
    const member = (await createApiToken(database.db, { workspaceId: WS, role: 'member', name: 'product', createdBy: 'test' })).token;
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
    const steady = (
      await database.db.raw<{ rows: { customer_id: string }[] }>(
        `select s.customer_id from stripe_subscriptions s where s.workspace_id = ? and s.ended_at is null and s.status not in ('incomplete', 'incomplete_expired', 'paused')
          group by s.customer_id
         having count(*) = 1 and bool_and(s.status = 'active' and not s.cancel_at_period_end and s.cancel_at is null)
            and not exists (select 1 from dunning_cases d where d.workspace_id = ? and d.customer_id = s.customer_id and d.outcome is null)
            and not exists (select 1 from analytics_movements m where m.workspace_id = ? and m.customer_id = s.customer_id and m.kind = 'contraction' and m.at > now() - interval '90 days')
         order by s.customer_id limit 1`,
        [WS, WS, WS],
      )
    ).rows[0]!.customer_id;
    const signals = [
      { type: 'usage', id: 'ui-u1', customerId: steady, at: daysAgo(3), metric: 'reports_generated', quantity: 1120 },
      { type: 'usage', id: 'ui-u2', customerId: steady, at: daysAgo(33), metric: 'reports_generated', quantity: 1000 },
      { type: 'login', id: 'ui-l1', customerId: steady, at: daysAgo(1) },
      { type: 'ticket', id: 'ui-t1', customerId: steady, at: daysAgo(2), ticket: 'T-1', status: 'opened', priority: 'urgent' },
    ];
    expect((await api.request('POST', `/workspaces/${WS}/signals`, { token: member, body: { signals } })).body).toMatchObject({ stored: 4, unmirroredCustomers: { count: 0 } });

    // A mover's page: who they are, what they pay, their subscriptions and how their MRR moved.
    await page.click(`table.customers a.customer-link`);
    await page.waitForURL(`${api.url}${moverHref}`);
    await contentText(page);
    expect(await page.innerText('h1.customer-name')).toBe(contact.name);
    // Stripe's own page of the customer, in the mode the mirror holds it in (test here).
    expect(await page.getAttribute('a.stripe-link', 'href')).toBe(`https://dashboard.stripe.com/test/customers/${moverId}`);
    expect(await page.innerText('[data-testid=customer-mrr] .kpi-value')).toMatch(/^\$[\d,]+\.\d{2}$/);
    expect(await page.locator('table.subscriptions tbody tr').count()).toBeGreaterThan(0);
    // The newest subscription's items as the mirror holds them, one line each: "3 × Scale at $25.00 / month"
    // at a unit price, "25 × Enterprise, $950.00 / month" for a price by tiers (what its seats cost a period).
    const newest = await database.db('stripe_subscriptions')
      .where({ workspace_id: WS, customer_id: moverId })
      .orderBy([{ column: 'start_date', order: 'desc', nulls: 'last' }, { column: 'id' }])
      .first<{ id: string; currency: string }>('id', 'currency');
    const newestItems = await database.db('stripe_subscription_items as i')
      .join('stripe_prices as p', function () {
        this.on('p.workspace_id', 'i.workspace_id').andOn('p.id', 'i.price_id');
      })
      .join('stripe_products as pr', function () {
        this.on('pr.workspace_id', 'p.workspace_id').andOn('pr.id', 'p.product_id');
      })
      .where({ 'i.workspace_id': WS, 'i.subscription_id': newest.id })
      .orderBy('i.id')
      .select<(PriceTermRow & { quantity: number | null; product: string; recurring_interval: string; recurring_interval_count: number })[]>(
        'i.quantity',
        'pr.name as product',
        ...PRICE_TERM_COLUMNS,
        'p.recurring_interval',
        'p.recurring_interval_count',
      );
    const currency = newest.currency.trim();
    const shown = (minor: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(minor / minorUnitsPer(currency));
    const itemLines = newestItems.map((i) => {
      const named = `${i.quantity !== null && i.quantity !== 1 ? `${i.quantity} × ` : ''}${i.product}`;
      const every = ` / ${i.recurring_interval_count === 1 ? i.recurring_interval : `${i.recurring_interval_count} ${i.recurring_interval}s`}`;
      if (i.billing_scheme !== 'tiered') return `${named} at ${shown(Number(i.unit_amount))}${every}`;
      const amount = periodAmount(priceTerms(i), i.quantity ?? 1);
      expect(amount, `${named}: its tiers price its quantity`).not.toBeNull();
      return `${named}, ${shown(amount!)}${every}`;
    });
    expect(itemLines.length).toBeGreaterThan(0);
    expect(await page.locator(`table.subscriptions tbody tr[data-subscription="${newest.id}"] td:nth-child(3)`).innerText()).toBe(itemLines.join('\n'));
    expect(await page.locator('table.movements-history tbody tr').count()).toBeGreaterThan(0);
    // Its invoices, newest first, with their amounts in their own currency.
    expect(await page.locator('table.invoices tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('table.invoices tbody tr td:nth-child(4)').first().innerText()).toMatch(/^(\$|€|£)[\d,]+\.\d{2}$/);
    await shot(page, 'finance-customer');
    // What the product says of the customer it reported on: usage by metric against the 30 days before, logins, tickets.
    await page.goto(`${api.url}/w/${WS}/customers/${steady}`);
    await contentText(page);
    expect(await page.locator('table.activity tbody tr').evaluateAll((rows: { textContent: string | null }[]) => rows.map((r) => r.textContent))).toEqual(['reports generated1,1201,000+12%', 'logins10new']);
    expect(await page.innerText('section:has(table.activity) p')).toContain('Support: 1 ticket open, 1 opened in the last 30 days.');
    // Their churn risk, and the reasons that make it up.
    expect(await page.innerText('[data-testid=customer-risk] .kpi-value')).toBe('10');
    expect(await page.locator('.risk-reasons li').evaluateAll((items: { textContent: string | null }[]) => items.map((i) => i.textContent))).toEqual(['+10 1 high-priority support ticket open']);
    // Their use against their plan's limits: past the limit once over it, near it from 80%.
    const limitLines = await page.locator('[data-testid=plan-limits] li').allTextContents();
    expect(limitLines.length).toBeGreaterThan(0);
    for (const line of limitLines) {
      const [, used, included] = /: ([\d,]+) of ([\d,]+) a month/.exec(line)!.map((n) => Number(n.replace(/,/g, '')));
      if (used! > included!) expect(line).toMatch(/ past the limit$/);
      else if (used! >= 0.8 * included!) expect(line).toMatch(/ near the limit$/);
      else expect(line).not.toMatch(/the limit$/);
    }
    await shot(page, 'finance-customer-activity');
    // A seat plan priced by volume tiers has no unit price: its line reads what its 12 seats cost a period (12 × $12).
    const item = await database.db('stripe_subscription_items as i')
      .join('stripe_subscriptions as s', function () {
        this.on('s.workspace_id', 'i.workspace_id').andOn('s.id', 'i.subscription_id');
      })
      .join('stripe_prices as p', function () {
        this.on('p.workspace_id', 'i.workspace_id').andOn('p.id', 'i.price_id');
      })
      .where({ 'i.workspace_id': WS, 's.customer_id': steady })
      .whereNull('s.ended_at')
      .first<{ id: string; product_id: string; currency: string }>('i.id', 'p.product_id', 'p.currency');
    const tiers = [
      { up_to: 10, unit_amount: 1_500, unit_amount_decimal: '1500', flat_amount: null, flat_amount_decimal: null },
      { up_to: null, unit_amount: 1_200, unit_amount_decimal: '1200', flat_amount: null, flat_amount_decimal: null },
    ];
    await database.db('stripe_prices').insert({
      workspace_id: WS,
      id: 'price_ui_seats',
      product_id: item.product_id,
      currency: item.currency,
      unit_amount: null,
      billing_scheme: 'tiered',
      tiers_mode: 'volume',
      tiers: JSON.stringify(tiers),
      type: 'recurring',
      recurring_interval: 'month',
      recurring_interval_count: 1,
      recurring_usage_type: 'licensed',
      active: true,
      stripe_state_at: new Date(),
    });
    await database.db('stripe_subscription_items').where({ workspace_id: WS, id: item.id }).update({ price_id: 'price_ui_seats', quantity: 12 });
    await page.reload();
    await contentText(page);
    expect(await page.locator('table.subscriptions tbody tr td:nth-child(3)').first().innerText()).toMatch(/^12 × .+, (\$|€|£)144\.00 \/ month$/);
    // The list the likeliest to leave first, each with their risk.
    await page.click('a[data-page=customers]');
    await page.click('.segmented a:has-text("Most at risk")');
    await page.waitForURL(`${api.url}/w/${WS}/customers?sort=risk`);
    await page.waitForSelector('table.customers tbody tr');
    const scores = await page.locator('table.customers tbody tr').evaluateAll((rows: { querySelector(s: string): { getAttribute(a: string): string | null } | null }[]) =>
      rows.map((r) => r.querySelector('.badge.risk')?.getAttribute('title') ?? null),
    );
    const numbers = scores.map((t) => (t === null ? -1 : Number(/(\d+) of 100/.exec(t)![1])));
    expect(numbers).toEqual([...numbers].sort((a, b) => b - a));
    expect(numbers).toContain(10);
    // How the score would have called this workspace's churns, loaded when asked for.
    await page.click('details.backtest summary');
    await page.waitForSelector('.backtest-levels li[data-level=high]');
    expect(await page.innerText('.backtest-levels li[data-level=high]')).toMatch(/^Flagged high: /);
    // The churn radar's threshold (50 by default) has its row too.
    expect(await page.innerText('.backtest-levels li[data-level=threshold]')).toMatch(/^At the churn radar's threshold \(a score of 50 or more\): /);
    expect(await page.innerText('details.backtest .muted')).toContain('Scored as of a check every 7 days over the last 180 days');
    await shot(page, 'finance-customers-at-risk');
    // From a draft to its customer, known here only by the dunning and its emails (no mirrored copy).
    await page.click('a[data-page=drafts]');
    await contentText(page);
    await page.click('table.drafts a.customer-link:has-text("customer1@example.com")');
    await page.waitForURL(`${api.url}/w/${WS}/customers/cus_ui_1`);
    const known = await contentText(page);
    expect(known).toContain('not mirrored yet');
    expect(known).toContain('Your product has sent no usage, logins or tickets for this customer.');
    expect(await page.locator('a.stripe-link').count()).toBe(0);
    expect(await page.locator('table.dunnings tbody tr[data-invoice=in_ui_1] td:nth-child(3)').innerText()).toBe('$98.00');
    expect(await page.locator('table.customer-drafts tbody tr td:first-child').allTextContents()).toEqual(['Dunning · email 2']);
    // A running dunning offers finance the way out for an invoice paid outside Stripe; asked first, and Stripe's refusal shown.
    await page.goto(`${api.url}/w/${WS}/customers/cus_ui_2`);
    await contentText(page);
    await page.click('tr[data-invoice=in_ui_2] button.paid-out-of-band');
    expect(await page.innerText('tr[data-invoice=in_ui_2] .confirm')).toContain('Stripe marks in_ui_2 paid without charging the customer, and its dunning stops.');
    await page.click('tr[data-invoice=in_ui_2] button:has-text("Mark it paid")');
    await page.waitForSelector('tr[data-invoice=in_ui_2] .feedback .error');
    expect(await page.innerText('tr[data-invoice=in_ui_2] .feedback .error')).toContain('the workspace has no Stripe key yet');

    // Logout ends the session: the API refuses it, the pages send to the login.
    await page.click('[data-testid=logout]');
    await page.waitForURL(`${api.url}/login`);
    const after = await page.evaluate(async () => (await fetch('/auth/session', { credentials: 'same-origin' })).status);
    expect(after).toBe(401);
    await page.goto(`${api.url}/w/${WS}/dashboard`);
    await page.waitForURL(/\/login\?next=/);
    await context.close();
  });

  for (const role of ['viewer', 'member'] as const) {
    it(`shows a ${role} every page with revenue "Hidden" and no amount anywhere`, async () => {
      const { context, page } = await loggedIn(role);
      // [route, screenshot name, whether the page holds revenue figures (which then read Hidden)]
      const pages: [string, string, boolean][] = [['dashboard', 'dashboard', true], ['recovery', 'recovery', true], ['drafts', 'drafts', false], [`drafts/${drafts[1]!.id}`, 'draft', true], ['plays', 'plays', false], ['emails', 'emails', false], ['stripe', 'stripe', true], ['audit', 'audit', false], ['customers', 'customers', true], ['customers/cus_ui_0', 'customer', true]];
      for (const [route, name, revenue] of pages) {
        await page.goto(`${api.url}/w/${WS}/${route}`);
        const text = await contentText(page);
        const html = await page.content();
        await shot(page, `${role}-${name}`);
        expect({ name, amount: AMOUNT.exec(text)?.[0] ?? null }).toEqual({ name, amount: null });
        // Hover titles and attributes too.
        expect({ name, amount: AMOUNT.exec(html)?.[0] ?? null }).toEqual({ name, amount: null });
        if (revenue) expect(text, name).toContain('Hidden');
      }
      // Below finance, a running dunning offers no way to mark its invoice paid.
      await page.goto(`${api.url}/w/${WS}/customers/cus_ui_2`);
      expect(await contentText(page)).toContain('running');
      expect(await page.locator('button.paid-out-of-band').count()).toBe(0);
      await page.goto(`${api.url}/w/${WS}/dashboard`);
      await contentText(page);
      expect(await page.innerText('[data-testid=kpi-mrr] .kpi-value')).toBe('Hidden');
      expect(await page.innerText('.chart-notice')).toContain('hidden for your role');
      expect(await page.locator('svg.chart circle.mrr').count()).toBe(0);
      // Counts are not revenue: the cohort table still shows its customers.
      expect(await page.locator('table.heatmap td.cell').first().innerText()).toMatch(/^\d+%$/);
      expect(await page.locator('a[data-page=audit]').count()).toBe(0);
      expect(await page.locator('.drilldown tbody tr td.num').first().innerText()).toBe('Hidden');
      // The export links serve the same redaction: periods and counts, no MRR.
      const csvHref = await page.locator('.exports a', { hasText: 'mrr.csv' }).getAttribute('href');
      const csv = await page.evaluate(async (href) => (await fetch(href!, { credentials: 'same-origin' })).text(), csvHref);
      const [head, ...rows] = csv.trim().split(/\r?\n/);
      expect(head).toBe('period,mrr,customers');
      expect(rows.length).toBe(12);
      for (const row of rows) expect(row).toMatch(/^\d{4}-\d{2},,\d+$/);
      await context.close();
    });
  }

  /** The user of two workspaces, signed in: at the workspace picker. */
  async function atPicker(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${api.url}/login`);
    await page.fill('input[name=email]', 'two@ui.example');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${api.url}/`);
    await page.waitForSelector('body[data-ready]');
    return { context, page };
  }

  it('offers a user of two workspaces the picker, with each role, and no page of a third', async () => {
    const { context, page } = await atPicker({ width: 1280, height: 720 });
    const items = await page.locator('ul.workspaces li').allInnerTexts();
    expect(items.map((t) => t.replace(/\s+/g, ' '))).toEqual([expect.stringMatching(/Acme Analytics ws_ui viewer/i), expect.stringMatching(/Beta Labs ws_ui_two finance/i)]);
    await shot(page, 'picker');
    await page.click('text=Acme Analytics');
    await page.waitForURL(`${api.url}/w/${WS}/dashboard`);
    expect(await contentText(page)).toContain('Hidden');
    await page.goto(`${api.url}/w/ws_matrix_nobody/dashboard`);
    expect(await contentText(page)).toContain('You are not a member of workspace ws_matrix_nobody');
    await context.close();
  });

  it('lets a member discard a draft through the UI and shows a viewer no actions', async () => {
    const member = await loggedIn('member');
    await member.page.goto(`${api.url}/w/${WS}/drafts/${drafts[1]!.id}`);
    await contentText(member.page);
    // The member sees the text with its amounts hidden; saving that as an edit is refused, and the page says why.
    await member.page.click('button:has-text("Edit")');
    await member.page.click('button:has-text("Save edit")');
    await member.page.waitForSelector('.feedback .error');
    expect(await member.page.innerText('.feedback .error')).toContain('still contains "[amount hidden]"');
    expect((await findDraft(database.db, WS, drafts[1]!.id))?.status).toBe('drafted');
    await shot(member.page, 'member-edit-refused');
    await member.page.click('button:has-text("Discard")');
    await member.page.fill('input[name=reason]', 'customer paid by wire');
    await member.page.click('button:has-text("Discard draft")');
    await member.page.waitForSelector('.success');
    expect(await member.page.textContent('.page-head .badge')).toBe('discarded');
    expect((await findDraft(database.db, WS, drafts[1]!.id))?.status).toBe('discarded');
    // A second decision on a final draft: the page shows it can no longer change.
    expect(await member.page.innerText('main')).toContain('can no longer change');
    await member.context.close();

    const viewer = await loggedIn('viewer');
    await viewer.page.goto(`${api.url}/w/${WS}/drafts/${drafts[0]!.id}`);
    const text = await contentText(viewer.page);
    expect(text).toContain('can read drafts but not approve');
    expect(await viewer.page.locator('button:has-text("Approve")').count()).toBe(0);
    await viewer.context.close();
  });

  it('lets an owner switch dunning to auto for a share of customers; finance sees the switch read-only', async () => {
    const owner = await loggedIn('owner');
    await owner.page.click('a[data-page=plays]');
    await contentText(owner.page);
    const dunning = owner.page.locator('#play-dunning');
    await dunning.locator('input[name=mode][value=auto]').check();
    await dunning.locator('input[name=autoPercentage]').fill('25');
    await dunning.locator('button:has-text("Save")').click();
    await owner.page.waitForSelector('.success');
    expect(await owner.page.innerText('.success')).toContain('dunning is auto for 25% of customers');
    await shot(owner.page, 'owner-plays');
    const stored = await getPlaySettings(database.db, WS, 'dunning');
    expect(stored.rollout).toEqual({ mode: 'auto', autoPercentage: 25 });
    // The schedule went back unchanged, not reset.
    expect(stored.config).toMatchObject(DEFAULT_DUNNING_SCHEDULE);

    // The schedule: what the API would refuse is named before anything is sent, and goes once mended.
    const day = (n: number) => owner.page.locator(`tr[data-step="${n}"] input[name=day]`);
    await day(1).fill('3.5');
    await dunning.locator('button:has-text("Save")').click();
    expect(await owner.page.innerText('.schedule-problems')).toBe('Email 2: the day must be a whole number from 0 to 60');
    await day(1).fill('7');
    expect(await owner.page.innerText('.schedule-problems')).toBe('Email 2 and Email 3 are both on day 7: one email a day');
    await day(1).fill('2');
    expect(await owner.page.locator('.schedule-problems').count()).toBe(0);
    expect((await getPlaySettings(database.db, WS, 'dunning')).config).toMatchObject(DEFAULT_DUNNING_SCHEDULE);
    // One email fewer, one more (day 10, out of order), and the retry window wider; saved in day order.
    await owner.page.click('tr[data-step="4"] button.remove-step');
    await owner.page.click('button.add-step');
    expect(await day(4).inputValue()).toBe('17');
    await day(4).fill('10');
    await owner.page.selectOption('tr[data-step="4"] select[name=tone]', 'urgent');
    await owner.page.selectOption('tr[data-step="3"] select[name=tone]', 'final');
    await owner.page.fill('input[name=quietHoursBeforeRetry]', '24.5');
    await dunning.locator('button:has-text("Save")').click();
    await owner.page.waitForSelector('.success:has-text("in 5 emails")');
    const edited = { steps: [{ day: 0, tone: 'friendly' }, { day: 2, tone: 'helpful' }, { day: 7, tone: 'firm' }, { day: 10, tone: 'urgent' }, { day: 14, tone: 'final' }], quietHoursBeforeRetry: 24.5, hoursAfterRetry: 2 };
    expect((await getPlaySettings(database.db, WS, 'dunning')).config).toEqual(edited);
    expect(await owner.page.locator('tr[data-step] input[name=day]').evaluateAll((inputs: { value: string }[]) => inputs.map((i) => i.value))).toEqual(['0', '2', '7', '10', '14']);
    await shot(owner.page, 'owner-plays-schedule');
    await owner.context.close();

    const finance = await loggedIn('finance');
    await finance.page.click('a[data-page=plays]');
    const text = await contentText(finance.page);
    expect(text).toContain("Only owners change a play's mode");
    // Who changed it, by email: not the stored user:usr_… id.
    expect(text).toMatch(/Last changed .+ UTC by owner@ui\.example\./);
    const readOnly = finance.page.locator('#play-dunning');
    expect(await readOnly.locator('input[name=mode][value=auto]').isChecked()).toBe(true);
    expect(await readOnly.locator('input[name=mode][value=off]').isDisabled()).toBe(true);
    expect(await finance.page.locator('button:has-text("Save")').count()).toBe(0);
    // Finance reads the schedule as saved, with nothing to type into.
    expect(await readOnly.locator('table.data tbody tr').allInnerTexts()).toEqual(['Email 1\t0\tfriendly', 'Email 2\t2\thelpful', 'Email 3\t7\tfirm', 'Email 4\t10\turgent', 'Email 5\t14\tfinal']);
    expect(await finance.page.locator('input[name=day]').count()).toBe(0);
    await finance.context.close();
    // The schedule back to the default, as the later tests expect.
    await putPlaySettings(database.db, WS, 'dunning', { rollout: stored.rollout, config: { ...DEFAULT_DUNNING_SCHEDULE } }, 'test');
  });

  it("lets an owner set the churn radar's threshold and offers; the page lists its saves", async () => {
    let saveId: string | undefined;
    try {
      const owner = await loggedIn('owner');
      await owner.page.click('a[data-page=plays]');
      await contentText(owner.page);
      const churn = owner.page.locator('#play-churn');
      expect(await churn.innerText()).toContain('No saves yet');
      // Refused by the API, named in words, nothing stored.
      await churn.locator('input[name=threshold]').fill('0');
      await churn.locator('button:has-text("Save churn radar")').click();
      expect(await churn.locator('.error').innerText()).toContain('invalid config: threshold');
      expect((await getPlaySettings(database.db, WS, 'churn')).updatedAt).toBeNull();
      await churn.locator('input[name=mode][value=review]').check();
      await churn.locator('input[name=threshold]').fill('40');
      await churn.locator('input[name=successCallUrl]').fill('https://cal.ui.example/success');
      await churn.locator('button:has-text("Save churn radar")').click();
      await owner.page.waitForSelector('#play-churn .success');
      expect(await owner.page.innerText('#play-churn .success')).toContain('the churn radar is review, reaching out at a score of 40');
      // The notice is the churn radar's section's own.
      expect(await owner.page.locator('#play-dunning .success').count()).toBe(0);
      expect((await getPlaySettings(database.db, WS, 'churn')).config).toEqual({ threshold: 40, cooldownDays: 30, creditPercent: 20, successCallUrl: 'https://cal.ui.example/success' });
      // A save the radar opened is listed with its biggest reason.
      // A customer of the simulated account, whose name the mirror holds.
      const [savedId, saved] = [...contacts].find(([, c]) => c.name !== null)!;
      const [save] = await openChurnSaves(database.db, WS, [{ customerId: savedId, score: 55, reasons: [{ code: 'cancellation_scheduled', points: 50, text: 'Cancellation scheduled: their subscription ends on 2026-12-31' }, { code: 'nps_detractor', points: 5, text: 'Gave 5 out of 10' }] }], { threshold: 40, cooldownDays: 30, now: new Date() });
      await owner.page.reload();
      await owner.page.waitForSelector('[data-testid=churn-saves] tbody tr');
      const row = await owner.page.locator('[data-testid=churn-saves] tbody tr').innerText();
      // Named as people know the customer, with their id beside.
      expect(row).toContain(saved.name!);
      expect(row).toContain(savedId);
      expect(row).toContain('Cancellation scheduled');
      expect(row).toContain('open');
      saveId = save!.id;
      await shot(owner.page, 'owner-plays-churn');
      await owner.context.close();

      const finance = await loggedIn('finance');
      await finance.page.click('a[data-page=plays]');
      await contentText(finance.page);
      const readOnly = finance.page.locator('#play-churn');
      expect(await readOnly.locator('input[name=threshold]').isDisabled()).toBe(true);
      expect(await readOnly.locator('input[name=threshold]').inputValue()).toBe('40');
      expect(await readOnly.locator('input[name=mode][value=review]').isChecked()).toBe(true);
      expect(await readOnly.locator('input[name=mode][value=auto]').isDisabled()).toBe(true);
      expect(await readOnly.innerText()).toContain("Only owners change a play's mode and settings");
      expect(await finance.page.locator('button:has-text("Save churn radar")').count()).toBe(0);
      await finance.context.close();
    } finally {
      if (saveId) await closeChurnSave(database.db, saveId, 'off', new Date());
      await putPlaySettings(database.db, WS, 'churn', { rollout: { mode: 'off', autoPercentage: null }, config: {} }, 'test');
    }
  });

  it("shows a save draft's risk reasons in words, and a long link without widening the page", async () => {
    const link = `https://invoice.stripe.com/i/acct_1Ui/${'x'.repeat(160)}`;
    const facts = {
      risk: {
        score: 70,
        reasons: [
          { code: 'cancellation_scheduled', text: 'Cancellation scheduled: their subscription ends on 2027-01-01', points: 50 },
          { code: 'no_recent_login', text: 'No login for 59 days', points: 20 },
        ],
      },
      invoice: { hostedUrl: link },
    };
    const { draft } = await createDraftOnce(
      database.db,
      { workspaceId: WS, customerId: 'cus_ui_reasons', play: 'churn', step: 'save', workflowId: `churn:${WS}:ui_reasons`, subjectRef: null, templateKey: 'downgrade', status: 'drafted', toAddress: 'reasons@example.com', subject: 'A plan that fits', bodyHtml: `<p>${link}</p>`, bodyText: link, facts, scheduledFor: null },
      'system:churn',
    );
    const owner = await loggedIn('owner');
    try {
      await owner.page.goto(`${api.url}/w/${WS}/drafts/${draft.id}`);
      await contentText(owner.page);
      const reasons = owner.page.locator('table.facts tr', { hasText: 'Risk · reasons' }).locator('td');
      expect((await reasons.innerText()).split('\n')).toEqual(['Cancellation scheduled: their subscription ends on 2027-01-01 (50 points)', 'No login for 59 days (20 points)']);
      // The link wraps inside its panel: nothing is wider than the window.
      expect(await owner.page.locator('html').evaluate((root: { scrollWidth: number; clientWidth: number }) => root.scrollWidth - root.clientWidth)).toBeLessThanOrEqual(0);
      await shot(owner.page, 'owner-draft-reasons');
    } finally {
      await owner.context.close();
      await transitionDraft(database.db, draft.id, { to: 'discarded', actor: 'system:test' });
    }
  });

  it("lets an owner set the expansion play's seat trigger and cooldown; the page and the customer's page list its pitches", async () => {
    let pitchId: string | undefined;
    try {
      const target = (await effectiveMapping(database.db, WS)).filter((m) => m.monthlyAmount !== null).at(-1)!;
      const owner = await loggedIn('owner');
      await owner.page.click('a[data-page=plays]');
      await contentText(owner.page);
      const expansion = owner.page.locator('#play-expansion');
      expect(await expansion.innerText()).toContain('No pitches yet');
      await expansion.locator('input[name=seatsAdded]').fill('0');
      await expansion.locator('button:has-text("Save expansion")').click();
      expect(await expansion.locator('.error').innerText()).toContain('invalid config: seatsAdded');
      expect((await getPlaySettings(database.db, WS, 'expansion')).updatedAt).toBeNull();
      await expansion.locator('input[name=seatsAdded]').fill('5');
      await expansion.locator('input[name=cooldownDays]').fill('60');
      await expansion.locator('button:has-text("Save expansion")').click();
      await owner.page.waitForSelector('#play-expansion .success');
      expect(await owner.page.innerText('#play-expansion .success')).toContain('expansion is review, cooling down for 60 days after a pitch');
      expect((await getPlaySettings(database.db, WS, 'expansion')).config).toEqual({ seatsAdded: 5, seatWindowDays: 30, cooldownDays: 60 });
      const [pitch] = await openExpansionPitches(database.db, WS, [{ customerId: 'cus_ui_1', evidence: { trigger: 'seats_added', from: 4, to: 9, added: 5 }, targetProductId: target.productId }], { cooldownDays: 60, now: new Date() });
      pitchId = pitch!.id;
      await owner.page.reload();
      await owner.page.waitForSelector('[data-testid=expansion-pitches] tbody tr');
      const row = await owner.page.locator('[data-testid=expansion-pitches] tbody tr').innerText();
      expect(row).toContain('cus_ui_1');
      expect(row).toContain('4 → 9 seats (+5)');
      expect(row).toContain(target.planName);
      await shot(owner.page, 'owner-plays-expansion');
      await owner.page.locator('[data-testid=expansion-pitches] a.customer-link').click();
      await owner.page.waitForSelector('[data-testid=customer-pitches]');
      expect(await owner.page.innerText('[data-testid=customer-pitches]')).toContain(`seats added, pitched ${target.planName}; open.`);
      await owner.context.close();
    } finally {
      if (pitchId) await expansionPitchRows.close(database.db, pitchId, 'off', new Date());
      await putPlaySettings(database.db, WS, 'expansion', { rollout: { mode: 'off', autoPercentage: null }, config: {} }, 'test');
    }
  });

  it('lets an owner set when renewal notes are written and whether they carry offers; the page lists the notes', async () => {
    let noteId: string | undefined;
    try {
      const owner = await loggedIn('owner');
      await owner.page.click('a[data-page=plays]');
      await contentText(owner.page);
      const renewal = owner.page.locator('#play-renewal');
      expect(await renewal.innerText()).toContain('No notes yet');
      await renewal.locator('input[name=daysBefore]').fill('3');
      await renewal.locator('button:has-text("Save renewal notes")').click();
      expect(await renewal.locator('.error').innerText()).toContain('invalid config: daysBefore');
      await renewal.locator('input[name=daysBefore]').fill('45');
      await renewal.locator('input[name=offers]').uncheck();
      await renewal.locator('button:has-text("Save renewal notes")').click();
      await owner.page.waitForSelector('#play-renewal .success');
      expect(await owner.page.innerText('#play-renewal .success')).toContain('renewal notes are review, written 45 days before');
      expect((await getPlaySettings(database.db, WS, 'renewal')).config).toEqual({ daysBefore: 45, offers: false });
      // Every long-term renewal the simulated account has ahead: one note stays open, the others end.
      const { opened } = await openRenewalNotes(database.db, WS, { now: new Date(), from: new Date(), until: new Date(Date.now() + 400 * 86_400_000) });
      expect(opened.length).toBeGreaterThan(0);
      // The one the page lists first (newest, then by id).
      const [note] = await renewalNoteRows.list(database.db, WS, { limit: 1 });
      noteId = note!.id;
      for (const other of opened.filter((n) => n.id !== noteId)) await renewalNoteRows.close(database.db, other.id, 'off', new Date());
      await owner.page.reload();
      await owner.page.waitForSelector('[data-testid=renewal-notes] tbody tr');
      const first = await owner.page.locator('[data-testid=renewal-notes] tbody tr').first().innerText();
      expect(first).toContain(note!.customerId);
      expect(first).toContain('open');
      await shot(owner.page, 'owner-plays-renewal');
      await owner.context.close();
    } finally {
      if (noteId) await renewalNoteRows.close(database.db, noteId, 'off', new Date());
      await putPlaySettings(database.db, WS, 'renewal', { rollout: { mode: 'off', autoPercentage: null }, config: {} }, 'test');
    }
  });

  it("lets an owner rename, re-rank and limit the plans Stripe's products map to; finance reads them", async () => {
    const token = (await createApiToken(database.db, { workspaceId: WS, role: 'owner', name: 'plans', createdBy: 'test' })).token;
    const initial = (await api.request('GET', `/workspaces/${WS}/product-mapping`, { token })).body as { products: { productId: string; productName: string; planName: string; tierRank: number; limits: Record<string, number | null> }[] };
    expect(initial.products.length).toBeGreaterThanOrEqual(2);
    const [low, high] = initial.products;
    const owner = await loggedIn('owner');
    await owner.page.click('a[data-page=stripe]');
    await owner.page.waitForSelector('table.plans');
    expect(await owner.page.locator('table.plans tbody tr').count()).toBe(initial.products.length);
    const row = (p: { productId: string }) => owner.page.locator(`table.plans tr[data-product="${p.productId}"]`);
    const save = async () => {
      const [answer] = await Promise.all([owner.page.waitForResponse((r) => r.url().endsWith('/product-mapping') && r.request().method() === 'PUT'), owner.page.click('form.plan-mapping button[type=submit]')]);
      return answer.status();
    };

    // A rank another plan holds is refused, the plan named rather than its place in the request; nothing stored.
    await row(low!).locator('input[name=tierRank]').fill(String(high!.tierRank));
    expect(await save()).toBe(400);
    await owner.page.waitForSelector('form.plan-mapping .feedback .error');
    expect(await owner.page.innerText('form.plan-mapping .feedback .error')).toBe(`invalid product mapping: ${low!.productName}: tier rank ${high!.tierRank} is also held by ${high!.productId} (default)`);
    // Limits that do not read are refused on the page, before any request.
    await row(low!).locator('input[name=limits]').fill('seats=two');
    await owner.page.click('form.plan-mapping button[type=submit]');
    expect(await owner.page.innerText('form.plan-mapping .feedback .error')).toBe(`${low!.productName}: limits: "seats=two": the amount is a whole number or unlimited`);
    expect(await listOverrides(database.db, WS)).toEqual([]);

    // Swapped ranks (both rows changed), a new name and limits: saved together, and only
    // the plans drawn again (a key typed into the Connection form meanwhile stays).
    await owner.page.fill('form.stripe-key input[name=stripeKey]', 'rk_test_typedNotSent');
    await row(low!).locator('input[name=limits]').fill('seats=5, api_calls=unlimited');
    await row(low!).locator('input[name=planName]').fill('Starter');
    await row(high!).locator('input[name=tierRank]').fill(String(low!.tierRank));
    expect(await save()).toBe(200);
    await owner.page.waitForSelector('.feedback .success:has-text("Saved the plans")');
    expect(await owner.page.innerText('.feedback .success')).toBe('Saved the plans: 2 changed, the others from Stripe.');
    expect(await owner.page.inputValue('form.stripe-key input[name=stripeKey]')).toBe('rk_test_typedNotSent');
    expect(await listOverrides(database.db, WS)).toEqual([
      { productId: high!.productId, planName: high!.planName, tierRank: low!.tierRank, limits: high!.limits },
      { productId: low!.productId, planName: 'Starter', tierRank: high!.tierRank, limits: { seats: 5, api_calls: null } },
    ]);
    // The table is in tier order again: the renamed plan now below the other.
    expect(await owner.page.locator('table.plans tbody tr').nth(0).getAttribute('data-product')).toBe(high!.productId);
    expect(await row(low!).locator('input[name=limits]').inputValue()).toBe('seats=5, api_calls=unlimited');
    await shot(owner.page, 'owner-stripe-plans');

    // Both put back: they follow the catalogue again.
    await row(low!).locator('input[name=useDefault]').check();
    await row(high!).locator('input[name=useDefault]').check();
    expect(await save()).toBe(200);
    await owner.page.waitForSelector('.feedback .success:has-text("0 changed")');
    expect(await listOverrides(database.db, WS)).toEqual([]);
    expect(await row(low!).locator('input[name=planName]').inputValue()).toBe(low!.planName);
    await owner.context.close();

    const finance = await loggedIn('finance');
    await finance.page.click('a[data-page=stripe]');
    await finance.page.waitForSelector('table.plans');
    expect(await contentText(finance.page)).toContain('Only owners change the plans; your role is finance.');
    expect(await finance.page.locator('table.plans input[name=planName]').first().getAttribute('readonly')).toBe('');
    expect(await finance.page.locator('form.plan-mapping').count()).toBe(0);
    await finance.context.close();
  });

  it('says on the Plans page what each entry price buys: a unit, a package of units, or one unit of tiers', async () => {
    // Beta Labs (where this user is finance, and sees prices) sells by the unit, in packages and by graduated tiers.
    const created = Math.floor(Date.now() / 1000);
    const monthly = (id: string, product: string, pricing: Parameters<typeof buildPrice>[0]['pricing'], more: Partial<Stripe.Price> = {}) => ({
      ...buildPrice({ id, created, product, currency: 'usd', pricing, interval: 'month', intervalCount: 1, nickname: id, lookupKey: null, metadata: {} }),
      ...more,
    });
    const tier = (upTo: number | null, unitAmount: number) => ({ up_to: upTo, unit_amount: unitAmount, unit_amount_decimal: decimal(unitAmount), flat_amount: null, flat_amount_decimal: null });
    await upsertProducts(database.db, 'ws_ui_two', [buildProduct('prod_b_solo', created, 'Solo', '', {}), buildProduct('prod_b_team', created, 'Team packs', '', {}), buildProduct('prod_b_scale', created, 'Scale tiers', '', {})], new Date());
    await upsertPrices(
      database.db,
      'ws_ui_two',
      [
        monthly('price_b_solo', 'prod_b_solo', { unitAmount: 1_500 }),
        monthly('price_b_team', 'prod_b_team', { unitAmount: 20_000 }, { transform_quantity: { divide_by: 10, round: 'down' } }),
        monthly('price_b_scale', 'prod_b_scale', { volumeTiers: [tier(5, 4_500), tier(null, 3_800)] }, { tiers_mode: 'graduated' }),
      ],
      new Date(),
    );
    const { context, page } = await atPicker({ width: 1280, height: 900 });
    await page.goto(`${api.url}/w/ws_ui_two/stripe`);
    await page.waitForSelector('table.plans tbody tr');
    // The entry price column.
    const cell = (productId: string) => page.innerText(`table.plans tr[data-product="${productId}"] td:nth-child(5)`);
    expect((await cell('prod_b_solo')).trim()).toBe('$15.00/mo');
    expect((await cell('prod_b_team')).split('\n').map((l) => l.trim())).toEqual(['$200.00 per 10 units/mo', 'rounded down: 19 units bill as 1 package']);
    expect((await cell('prod_b_scale')).split('\n').map((l) => l.trim())).toEqual(['$45.00/mo for 1 unit', 'graduated tiers: each tier prices its own units']);
    await shot(page, 'finance-stripe-plans-packages');
    await context.close();
  });

  it("lets an owner set the sender and edit, preview and reset a dunning email; a viewer reads them", async () => {
    const owner = await loggedIn('owner');
    await owner.page.click('a[data-page=emails]');
    expect(await contentText(owner.page)).toContain("not set: the server's default sender");
    expect(await owner.page.locator('form.template-editor[data-play=dunning]').count()).toBe(5);
    expect(await owner.page.locator('form.template-editor[data-play=churn]').count()).toBe(3);
    expect(await owner.page.innerText('form[data-template=firm] p.muted')).toBe('Written for email 3 (day 7) of the dunning schedule.');

    // The sender, saved on its own: only its section is drawn again, with the notice.
    // Each save waits for the API's answer, then for the notice that answer brings.
    const senderNotice = '.email-sender-form ~ .feedback .success';
    const saveSender = async (click = 'form.email-sender-form button[type=submit]') => {
      const [answer] = await Promise.all([owner.page.waitForResponse((r) => r.url().endsWith('/email-settings') && r.request().method() === 'PUT'), owner.page.click(click)]);
      return answer.status();
    };
    await owner.page.fill('input[name=fromEmail]', 'billing@acme.example');
    await owner.page.fill('input[name=fromName]', 'Acme Billing');
    expect(await saveSender()).toBe(200);
    await owner.page.waitForSelector(`${senderNotice}:has-text("server's provider")`);
    expect(await owner.page.innerText(senderNotice)).toBe("Saved: emails now come from billing@acme.example, through the server's provider.");
    expect(await owner.page.innerText('.email-sender')).toContain('Acme Billing <billing@acme.example>');
    expect(await getEmailSettings(database.db, WS)).toEqual({ fromEmail: 'billing@acme.example', fromName: 'Acme Billing', replyTo: null, provider: null });

    // The workspace's own SendGrid key: sealed, shown by its last characters only.
    expect(await owner.page.isVisible('input[name=sendgridApiKey]')).toBe(false);
    await owner.page.selectOption('select[name=provider]', 'sendgrid');
    expect(await owner.page.isVisible('input[name=replaceKey]')).toBe(false);
    await owner.page.fill('input[name=sendgridApiKey]', 'SG.own-key-abcd9876');
    expect(await saveSender()).toBe(200);
    await owner.page.waitForSelector(`${senderNotice}:has-text("own SendGrid")`);
    expect(await owner.page.innerText(senderNotice)).toBe("Saved: emails now come from billing@acme.example, through the workspace's own SendGrid.");
    expect(await owner.page.innerText('.email-sender')).toContain("the workspace's own SendGrid, key ending 9876");
    expect(await owner.page.innerText('main')).not.toContain('SG.own-key');
    expect((await getEmailSettings(database.db, WS))?.provider).toEqual({ kind: 'sendgrid', keyHint: '9876' });
    // Saved again, the key stays: its field is shut until "replace" is ticked, so a password the browser fills in cannot change it.
    expect(await owner.page.isDisabled('input[name=sendgridApiKey]')).toBe(true);
    await owner.page.fill('input[name=replyTo]', 'help@acme.example');
    expect(await saveSender()).toBe(200);
    expect(await getEmailSettings(database.db, WS)).toEqual({ fromEmail: 'billing@acme.example', fromName: 'Acme Billing', replyTo: 'help@acme.example', provider: { kind: 'sendgrid', keyHint: '9876' } });
    await owner.page.waitForSelector('.email-sender:has-text("help@acme.example")');
    // Replacing it: a key SendGrid would not take is refused by the API, its field named; nothing changes.
    await owner.page.check('input[name=replaceKey]');
    await owner.page.fill('input[name=sendgridApiKey]', 'SG.has spaces');
    expect(await saveSender()).toBe(400);
    await owner.page.waitForSelector('.email-sender-form ~ .feedback .error');
    expect(await owner.page.innerText('.email-sender-form ~ .feedback .error')).toContain('apiKey');
    expect((await getEmailSettings(database.db, WS))?.provider).toEqual({ kind: 'sendgrid', keyHint: '9876' });
    // Back to the server's provider: the stored key, never shown again, is deleted only after a confirm.
    await owner.page.selectOption('select[name=provider]', 'server');
    await owner.page.click('form.email-sender-form button[type=submit]');
    expect(await owner.page.innerText('.email-sender-form .confirm')).toContain("Saving deletes the workspace's SendGrid key");
    await owner.page.click('.email-sender-form .confirm button:has-text("Cancel")');
    expect((await getEmailSettings(database.db, WS))?.provider).toEqual({ kind: 'sendgrid', keyHint: '9876' });
    await owner.page.click('form.email-sender-form button[type=submit]');
    expect(await saveSender('.email-sender-form .confirm button:has-text("Delete the key and save")')).toBe(200);
    expect((await getEmailSettings(database.db, WS))?.provider).toBeNull();
    await owner.page.waitForSelector(`.email-sender:has-text("the server's email provider")`);

    // A preview renders what is in the fields, unsaved, for the example customer.
    const firm = owner.page.locator('form[data-template=firm]');
    await firm.locator('input[name=subject]').fill('{{ customer.name }}: {{ invoice.amountDue | money }} is overdue (email {{ step.number }})');
    await firm.locator('button.preview').click();
    await firm.locator('.preview-subject').waitFor();
    expect(await firm.locator('.preview-subject').innerText()).toBe('Jordan Example: $99.00 is overdue (email 3)');
    expect(await firm.locator('.preview-text').innerText()).toContain('https://invoice.stripe.com/i/example');
    expect(await owner.page.frameLocator('form[data-template=firm] iframe.template-html').locator('body').innerText()).toContain('Jordan Example');
    expect(await listTemplateOverrides(database.db, WS, 'dunning')).toEqual({});

    // A misspelt fact is refused with its part; nothing is stored.
    await firm.locator('textarea[name=text]').fill('Hello {{ customer.nmae }}');
    await firm.locator('button[type=submit]').click();
    await firm.locator('.feedback .error').waitFor();
    expect(await firm.locator('.feedback .error').innerText()).toMatch(/^invalid template: text line 1, column \d+: .*nmae/);
    expect(await listTemplateOverrides(database.db, WS, 'dunning')).toEqual({});

    await owner.page.locator('form[data-template=urgent] input[name=subject]').fill('Unsaved urgent subject');
    await firm.locator('textarea[name=text]').fill('Hello {{ customer.name }}, please pay at {{ payUrl }}');
    await firm.locator('button[type=submit]').click();
    await firm.locator('.feedback .success:has-text("Saved the firm email")').waitFor();
    expect(await firm.locator('.feedback .success').innerText()).toBe('Saved the firm email; the next ones drafted use it.');
    // Only this email was drawn again: another's unsaved edit is still there.
    expect(await owner.page.locator('form[data-template=urgent] input[name=subject]').inputValue()).toBe('Unsaved urgent subject');
    expect((await listTemplateOverrides(database.db, WS, 'dunning')).firm?.text).toBe('Hello {{ customer.name }}, please pay at {{ payUrl }}');
    expect(await owner.page.textContent('form[data-template=firm] .badge')).toBe('edited');
    await shot(owner.page, 'owner-emails');

    // Back to the built-in email, after a confirm.
    await owner.page.click('form[data-template=firm] button.reset');
    await owner.page.click('form[data-template=firm] button:has-text("Use the built-in email")');
    await firm.locator('.feedback .success:has-text("built-in one again")').waitFor();
    expect(await firm.locator('.feedback .success').innerText()).toBe('The firm email is the built-in one again.');
    expect(await owner.page.textContent('form[data-template=firm] .badge')).toBe('built-in');
    expect(await listTemplateOverrides(database.db, WS, 'dunning')).toEqual({});

    // The churn radar's emails: previewed for an example customer offered that, and never citing the score.
    const credits = owner.page.locator('form[data-play=churn][data-template=credits]');
    expect(await credits.locator('h3').innerText()).toContain('Credits');
    await credits.locator('button.preview').click();
    await credits.locator('.preview-subject').waitFor();
    expect(await credits.locator('.preview-subject').innerText()).toBe('$20.00 of Acme Analytics credit, on us');
    await credits.locator('textarea[name=text]').fill('Your risk is {{ risk.score }}');
    await credits.locator('button[type=submit]').click();
    await credits.locator('.feedback .error').waitFor();
    expect(await credits.locator('.feedback .error').innerText()).toMatch(/^invalid template: text line 1/);
    expect(await listTemplateOverrides(database.db, WS, 'churn')).toEqual({});
    await owner.context.close();

    // A scheduled email the provider refused for the sender (an unverified from-address): held, and the page says why.
    const { draft: held } = await createDraftOnce(
      database.db,
      { workspaceId: WS, customerId: 'cus_ui_held', play: 'renewal', step: 'note', workflowId: `renewal:${WS}:ui_held`, subjectRef: null, templateKey: 'plain', status: 'scheduled', toAddress: 'held@example.com', subject: 'Your renewal', bodyHtml: '<p>Hi</p>', bodyText: 'Hi', facts: {}, scheduledFor: new Date() },
      'system:renewal',
    );
    const heldKey = sendKeyOf(held.id);
    await reserveSend(database.db, { workspaceId: WS, draftId: held.id, idempotencyKey: heldKey, provider: 'sendgrid', toAddress: 'held@example.com' });
    await finishSend(database.db, heldKey, { status: 'retry', error: 'SendGrid 403: from: The from address does not match a verified Sender Identity.', senderRefused: true });

    const viewer = await loggedIn('viewer');
    await viewer.page.click('a[data-page=emails]');
    expect(await contentText(viewer.page)).toContain('Only owners change the emails; your role is viewer.');
    const holdBox = await viewer.page.innerText('[data-testid=sender-hold]');
    expect(holdBox).toMatch(/^1 email held: SendGrid refused to send as this workspace's sender, last on .+ UTC\./);
    expect(holdBox).toContain('SendGrid 403: from: The from address does not match a verified Sender Identity.');
    expect(holdBox).toContain('An owner can put it right at the provider');
    await shot(viewer.page, 'viewer-emails-held');
    expect(await viewer.page.innerText('.email-sender')).toContain('Acme Billing <billing@acme.example>');
    expect(await viewer.page.locator('form[data-template=firm] input[name=subject]').getAttribute('readonly')).toBe('');
    expect(await viewer.page.locator('form.template-editor button').count()).toBe(0);
    expect(await viewer.page.locator('form.email-sender-form').count()).toBe(0);
    // The held draft's page says why it has not gone, and where to put it right.
    await viewer.page.goto(`${api.url}/w/${WS}/drafts/${held.id}`);
    await shot(viewer.page, 'viewer-draft-held');
    const heldNote = await viewer.page.locator('[data-testid=draft-held]').innerText();
    expect(heldNote).toMatch(/^Held: the email provider refused to send as this workspace's sender, last on .+ UTC \(SendGrid 403: from: The from address does not match a verified Sender Identity\.\)\. It goes out once the sender is put right: see Emails\.$/);
    expect(await viewer.page.locator('[data-testid=draft-held] a').getAttribute('href')).toBe(`/w/${WS}/emails`);
    await transitionDraft(database.db, held.id, { to: 'discarded', actor: 'system:test' });
    await viewer.context.close();
  });

  it('lets an owner create an API token, shown once and working, and revoke it', async () => {
    const owner = await loggedIn('owner');
    await owner.page.click('a[data-page=members]');
    await contentText(owner.page);
    await owner.page.fill('input[name=tokenName]', 'BI export');
    await owner.page.selectOption('select[name=tokenRole]', 'finance');
    await owner.page.click('button:has-text("Create token")');
    await owner.page.waitForSelector('[data-testid=one-time-token]');
    expect(await owner.page.innerText('.success')).toBe('Created the API token "BI export" (finance).');
    const token = await owner.page.innerText('[data-testid=one-time-token]');
    // It opens the workspace with its role: finance reads the audit log, and no more.
    expect((await api.request('GET', `/workspaces/${WS}/audit`, { token })).status).toBe(200);
    expect((await api.request('GET', `/workspaces/${WS}/members`, { token })).status).toBe(403);
    const row = owner.page.locator('table.api-tokens tr', { hasText: 'BI export' });
    expect(await row.innerText()).toMatch(/BI export\s+finance\s+.+ by you/);
    await shot(owner.page, 'owner-api-token-created');

    // Shown once: not after a reload. Revoking asks first, then the token is refused.
    await owner.page.reload();
    await contentText(owner.page);
    expect(await owner.page.locator('[data-testid=one-time-token]').count()).toBe(0);
    await row.locator('button.danger-outline').click();
    expect(await row.locator('.confirm').innerText()).toContain('Revoke "BI export"?');
    await row.locator('button:has-text("Revoke token")').click();
    await owner.page.waitForSelector('.success');
    expect(await owner.page.innerText('.success')).toBe('Revoked the API token "BI export".');
    expect(await owner.page.locator('table.api-tokens tr.revoked', { hasText: 'BI export' }).innerText()).toContain('revoked');
    expect((await api.request('GET', `/workspaces/${WS}/audit`, { token })).status).toBe(401);
    await owner.context.close();
  });

  it('lets an owner add a member (who signs in with the one-time password), change the role and remove them', async () => {
    const owner = await loggedIn('owner');
    await owner.page.click('a[data-page=members]');
    const list = await contentText(owner.page);
    expect(list).toContain(EMAIL.finance);
    await owner.page.fill('input[name=email]', 'new@ui.example');
    await owner.page.selectOption('select[name=role]', 'member');
    await owner.page.click('button:has-text("Add member")');
    await owner.page.waitForSelector('[data-testid=one-time-password]');
    expect(await owner.page.innerText('.success')).toContain('Added new@ui.example as member');
    expect(await owner.page.innerText('.one-time')).toContain('shown only this once');
    const password = await owner.page.innerText('[data-testid=one-time-password]');
    expect(password.length).toBeGreaterThanOrEqual(12);
    await shot(owner.page, 'owner-members-added');

    // The new person signs in with it and lands in the workspace as a member.
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const newcomer = await fresh.newPage();
    await newcomer.goto(`${api.url}/login`);
    await newcomer.fill('input[name=email]', 'new@ui.example');
    await newcomer.fill('input[name=password]', password);
    await newcomer.click('button[type=submit]');
    await newcomer.waitForURL(`${api.url}/w/${WS}/dashboard`);
    await newcomer.waitForSelector('body[data-ready]');
    expect(await newcomer.textContent('.user .badge')).toBe('member');

    // They replace the one-time password on their Account page (the email in the header).
    await newcomer.click('.user a[data-page=account]');
    await newcomer.waitForSelector('form.password-change');
    const change = async (current: string, next: string, repeat: string) => {
      await newcomer.fill('input[name=currentPassword]', current);
      await newcomer.fill('input[name=newPassword]', next);
      await newcomer.fill('input[name=repeatPassword]', repeat);
      await newcomer.click('form.password-change button[type=submit]');
      await newcomer.waitForSelector('form.password-change ~ .feedback > div');
      return newcomer.innerText('form.password-change ~ .feedback > div');
    };
    const mine = 'a long phrase of my own';
    expect(await change(password, mine, `${mine}!`)).toBe('the two new passwords differ; type the same one twice');
    expect(await change('not the password at all', mine, mine)).toBe('the current password is wrong');
    expect(await change(password, mine, mine)).toBe('Password changed. Your other sessions have ended; this one goes on.');
    await shot(newcomer, 'member-account');
    await fresh.close();
    // The one-time password no longer opens the account; theirs does.
    const login = (pw: string) => api.request('POST', '/auth/login', { body: { email: 'new@ui.example', password: pw } });
    expect((await login(password)).status).toBe(401);
    expect((await login(mine)).status).toBe(200);

    // The password is not shown again.
    await owner.page.reload();
    await contentText(owner.page);
    expect(await owner.page.locator('[data-testid=one-time-password]').count()).toBe(0);
    const row = owner.page.locator('table.members tr', { hasText: 'new@ui.example' });
    const userId = await row.getAttribute('data-user');
    await row.locator('select').selectOption('finance');
    await row.locator('button:has-text("Change role")').click();
    await owner.page.waitForSelector('.success');
    expect(await owner.page.innerText('.success')).toBe('new@ui.example is now finance.');
    expect((await findMember(database.db, keyring, WS, userId!))?.role).toBe('finance');

    // Removing asks first; cancelling keeps them.
    const again = owner.page.locator('table.members tr', { hasText: 'new@ui.example' });
    await again.locator('button.danger-outline').click();
    expect(await again.locator('.confirm').innerText()).toContain('Remove new@ui.example?');
    await shot(owner.page, 'owner-members-confirm');
    await again.locator('button:has-text("Remove member")').click();
    await owner.page.waitForSelector('.success');
    expect(await owner.page.innerText('.success')).toBe('Removed new@ui.example from the workspace.');
    expect(await owner.page.locator('table.members tr', { hasText: 'new@ui.example' }).count()).toBe(0);
    expect(await findMember(database.db, keyring, WS, userId!)).toBeUndefined();

    // The only owner cannot demote themselves: the API's 409 is on the page.
    const me = owner.page.locator('table.members tr', { hasText: EMAIL.owner });
    await me.locator('select').selectOption('finance');
    await me.locator('button:has-text("Change role")').click();
    await owner.page.waitForSelector('.feedback .error');
    expect(await owner.page.innerText('.feedback .error')).toBe(`workspace ${WS} must keep at least one owner: make another member owner first`);
    expect(owner.page.url()).toBe(`${api.url}/w/${WS}/members`);
    await shot(owner.page, 'owner-members-last-owner');
    await owner.context.close();

    const ownerRow = await database.db('workspace_members').where({ workspace_id: WS, role: 'owner' }).count<{ count: string }[]>({ count: '*' });
    expect(Number(ownerRow[0]!.count)).toBe(1);
  });

  it('shows an owner the webhook events Wysera cannot deliver, retries one at once, and gives up on it with a reason', async () => {
    // An event whose delivery failed twice (as the relay records it), and its customer's next one held back behind it.
    const stored = async (eventId: string) => {
      await insertInboxEvent(database.db, { workspaceId: WS, eventId, type: 'customer.subscription.updated', customerId: 'cus_ui_stuck', objectId: 'sub_ui_stuck', stripeCreated: new Date(), livemode: false, payload: { id: eventId } });
      return (await database.db('webhook_inbox').where({ event_id: eventId }).first<{ seq: number }>('seq')).seq;
    };
    const stuck = await stored('evt_ui_stuck');
    await stored('evt_ui_after');
    for (let i = 0; i < 2; i++) await deferInboxEvent(database.db, stuck, 'mirror: subscription sub_ui_stuck has no list of items', 60_000);

    const owner = await loggedIn('owner');
    await owner.page.click('a[data-page=webhooks]');
    // The endpoint's section: where Stripe must send what, and what arrived.
    const endpoint = await owner.page.innerText('.endpoint-summary');
    expect(endpoint).toContain(`${api.url}/webhooks/stripe/${WS}`);
    expect(endpoint).toContain('invoice.payment_failed');
    expect(endpoint).toMatch(/2 customer\.subscription\.updated/);
    expect(endpoint).toContain('2, the oldest for');
    const listed = await contentText(owner.page);
    expect(listed).toContain('evt_ui_stuck');
    expect(listed).toContain('mirror: subscription sub_ui_stuck has no list of items');
    expect(listed).not.toContain('evt_ui_after');
    expect(await owner.page.innerText('tr[data-event=evt_ui_stuck] td:nth-child(4)')).toBe('2');
    expect(await owner.page.innerText('.failing-count')).toBe('1 failing event.');
    expect(await owner.page.isHidden('button.show-more')).toBe(true);
    // An owner's header (every page's tab) fits a 1280-pixel window: nothing runs off its right edge.
    const page = await owner.page.locator('html').evaluate((el: { clientWidth: number; scrollWidth: number }) => ({ width: el.clientWidth, scrolled: el.scrollWidth }));
    expect(page.scrolled).toBe(page.width);
    const logout = await owner.page.locator('[data-testid=logout]').boundingBox();
    expect(logout!.x + logout!.width).toBeLessThanOrEqual(page.width);
    // ...on one row: every tab at the same height, the header no taller than its one-row height.
    const tabs = await owner.page.locator('.main-nav a').evaluateAll((links: { getBoundingClientRect(): { top: number; bottom: number } }[]) => links.map((a) => a.getBoundingClientRect()));
    expect(Math.max(...tabs.map((t) => t.top))).toBeLessThan(Math.min(...tabs.map((t) => t.bottom)));
    expect((await owner.page.locator('header.top').boundingBox())!.height).toBeLessThanOrEqual(56);
    await shot(owner.page, 'owner-webhooks-failing');
    // Retried at once: due now instead of in a minute, and still listed until the relay has tried it.
    await owner.page.click('tr[data-event=evt_ui_stuck] button:has-text("Retry now")');
    await owner.page.waitForSelector('.feedback .success');
    expect(await owner.page.innerText('.feedback .success')).toBe('Retrying evt_ui_stuck now; this list shows whether it went through.');
    // The page is built anew; the focus is on what was done, not back at the top.
    expect(await owner.page.locator('.feedback .success:focus').count()).toBe(1);
    const due = await database.db('webhook_inbox').where({ event_id: 'evt_ui_stuck' }).first<{ overdue: boolean }>(database.db.raw('next_attempt_at <= now() as overdue'));
    expect(due.overdue).toBe(true);
    expect(await contentText(owner.page)).toContain('evt_ui_stuck');
    await owner.page.fill('tr[data-event=evt_ui_stuck] input[name=reason]', 'subscription deleted in Stripe');
    await owner.page.click('tr[data-event=evt_ui_stuck] button:has-text("Give up")');
    await owner.page.waitForSelector('.feedback .success');
    expect(await owner.page.innerText('.feedback .success')).toBe("Gave up on evt_ui_stuck: cus_ui_stuck's later events go on, and its object is queued to be read again from Stripe (reread_evt_ui_stuck).");
    expect(await contentText(owner.page)).toContain('Every event Stripe sent has been delivered or is on its way.');
    expect((await database.db('webhook_inbox').where({ event_id: 'evt_ui_stuck' }).first<{ status: string }>('status')).status).toBe('ignored');
    await owner.context.close();

    const finance = await loggedIn('finance');
    expect(await finance.page.locator('a[data-page=webhooks]').count()).toBe(0);
    await finance.page.goto(`${api.url}/w/${WS}/webhooks`);
    expect(await contentText(finance.page)).toContain('Only owners see the webhook events Wysera cannot deliver; your role is finance.');
    await finance.context.close();
  });

  it("lets an owner replace the endpoint's signing secret, which the ingress takes at the next delivery", async () => {
    const deliver = async (secret: string) => {
      const body = JSON.stringify(stripeEvent('customer.subscription.updated', { ...stripeFixture('subscription'), customer: 'cus_ui_secret' }));
      const res = await fetch(`${api.url}/webhooks/stripe/${WS}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signatureFor(body, secret) }, body });
      return res.status;
    };
    const replacements = () => database.db('audit_log').where({ workspace_id: WS, action: 'workspace.webhook_secret_replaced' }).select('actor');
    // Signed with the secret the workspace was created with: the API now holds it in memory.
    expect(await deliver('whsec_ui')).toBe(200);
    const owner = await loggedIn('owner');
    try {
      await owner.page.click('a[data-page=webhooks]');
      await owner.page.waitForSelector('.endpoint-summary form.signing-secret');
      expect(await owner.page.innerText('.endpoint-summary')).toContain('as set when the workspace was created');
      // The field takes only a signing secret's form: nothing is sent for another.
      await owner.page.fill('form.signing-secret input[name=webhookSecret]', 'sk_test_not_a_secret');
      await owner.page.click('form.signing-secret button:has-text("Replace")');
      expect(await owner.page.locator('form.signing-secret input:invalid').count()).toBe(1);
      await owner.page.fill('form.signing-secret input[name=webhookSecret]', 'whsec_uiRolled');
      await owner.page.click('form.signing-secret button:has-text("Replace")');
      // Asked first: cancelled, nothing is sent.
      expect(await owner.page.innerText('form.signing-secret .confirm')).toContain('deliveries signed only with the old secret are refused');
      await owner.page.click('form.signing-secret .confirm button:has-text("Cancel")');
      expect(await owner.page.isHidden('form.signing-secret .confirm')).toBe(true);
      expect(await replacements()).toHaveLength(0);
      await owner.page.click('form.signing-secret button[type=submit]');
      await owner.page.click('form.signing-secret .confirm button:has-text("Replace secret")');
      await owner.page.waitForSelector('.endpoint-summary .secret-feedback .success');
      expect(await owner.page.innerText('.secret-feedback .success')).toContain('Signing secret replaced: deliveries signed with it are accepted from now on.');
      expect(await owner.page.locator('.secret-feedback .success:focus').count()).toBe(1);
      expect(await owner.page.content()).not.toContain('whsec_uiRolled');
      expect(await owner.page.innerText('.endpoint-summary')).toMatch(/replaced .+ UTC by you/);
      await shot(owner.page, 'owner-webhooks-secret-replaced');
    } finally {
      await owner.context.close();
    }
    // The API had the old secret in memory; the first delivery signed with the new one is taken all the same.
    expect(await deliver('whsec_uiRolled')).toBe(200);
    expect(await replacements()).toHaveLength(1);
  });

  it('shows the oldest 100 failing webhook events with their count, and the rest a page at a time', async () => {
    // 105 events whose delivery failed, one per customer, next tried in an hour.
    await database.db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, attempts, last_error, next_attempt_at)
       select ?, 'evt_ui_many_' || lpad(n::text, 3, '0'), 'customer.subscription.updated', 'cus_ui_many_' || n, 'sub_ui_many_' || n, now(), false, '{}'::json, 1, 'mirror: no such price', now() + interval '1 hour'
         from generate_series(1, 105) as n`,
      [WS],
    );
    const owner = await loggedIn('owner');
    try {
      await owner.page.click('a[data-page=webhooks]');
      await owner.page.waitForSelector('table.failing-events');
      expect(await owner.page.innerText('.failing-count')).toBe('105 failing events; 100 shown, oldest first.');
      expect(await owner.page.locator('table.failing-events tbody tr').count()).toBe(100);
      expect(await owner.page.locator('tr[data-event=evt_ui_many_101]').count()).toBe(0);
      await owner.page.click('button.show-more');
      await owner.page.waitForSelector('tr[data-event=evt_ui_many_105]');
      expect(await owner.page.locator('table.failing-events tbody tr').count()).toBe(105);
      expect(await owner.page.innerText('.failing-count')).toBe('105 failing events.');
      expect(await owner.page.isHidden('button.show-more')).toBe(true);
      // The first row added has the focus, for keyboards and screen readers.
      expect(await owner.page.locator('tr[data-event=evt_ui_many_101]:focus').count()).toBe(1);
      // Acting on an event reached through Show more keeps the list as long as it was.
      await owner.page.fill('tr[data-event=evt_ui_many_103] input[name=reason]', 'price deleted');
      await owner.page.click('tr[data-event=evt_ui_many_103] button:has-text("Give up")');
      await owner.page.waitForSelector('.feedback .success');
      expect(await owner.page.innerText('.failing-count')).toBe('104 failing events.');
      expect(await owner.page.locator('table.failing-events tbody tr').count()).toBe(104);
      expect(await owner.page.locator('tr[data-event=evt_ui_many_105]').count()).toBe(1);
    } finally {
      await owner.context.close();
      // Out of the way of the tests after, with the re-reads the give-ups queued.
      await database.db('webhook_inbox')
        .where('event_id', 'like', 'evt_ui_many_%')
        .orWhere('event_id', 'like', 'reread_evt_ui_%')
        .update({ status: 'ignored', processed_at: database.db.fn.now() });
    }
  });

  it('lets an owner have the set-aside events that are now the workspace\'s own applied, after a confirm', async () => {
    // Set aside by the relay as another mode's, when the workspace had a test-mode key.
    await insertInboxEvent(database.db, { workspaceId: WS, eventId: 'evt_ui_set_aside', type: 'customer.subscription.updated', customerId: 'cus_ui_aside', objectId: 'sub_ui_aside', stripeCreated: new Date(), livemode: true, payload: { id: 'evt_ui_set_aside', livemode: true } });
    await database.db('webhook_inbox')
      .where({ event_id: 'evt_ui_set_aside' })
      .update({ status: 'ignored', last_error: 'not applied: the event is a live-mode event, and this workspace mirrors test-mode data', processed_at: database.db.fn.now() });
    const owner = await loggedIn('owner');
    try {
      // No key now: no account or mode to tell the workspace's own events by, so connecting one is all that is offered.
      await owner.page.click('a[data-page=webhooks]');
      await owner.page.waitForSelector('.endpoint-summary .reapply-needs-key');
      expect(await owner.page.innerText('.endpoint-summary')).toMatch(/Set aside \(kept\)\s+1 of another account or mode/);
      expect(await owner.page.innerText('.reapply-needs-key')).toContain('first connect the Stripe key of the account they belong to');
      expect(await owner.page.locator('button.reapply').count()).toBe(0);
      // The live-mode key of the account the event came from: the event is now the workspace's own.
      await database.db('workspaces').where({ id: WS }).update({ stripe_key_ciphertext: seal(keyring, 'rk_live_uiAccount', secretContext(WS, 'stripe_key')), livemode: true });
      await owner.page.reload();
      await owner.page.waitForSelector('.endpoint-summary button.reapply');
      await owner.page.click('button.reapply');
      expect(await owner.page.innerText('.reapply-form .confirm')).toContain('a failed payment among them starts its dunning');
      await owner.page.click('.reapply-form .confirm button:has-text("Cancel")');
      expect(await database.db('webhook_inbox').where({ event_id: 'evt_ui_set_aside' }).first('status')).toEqual({ status: 'ignored' });
      await owner.page.click('button.reapply');
      await shot(owner.page, 'owner-webhooks-set-aside-confirm');
      await owner.page.click('.reapply-form .confirm button:has-text("Apply them")');
      await owner.page.waitForSelector('.feedback .success');
      expect(await owner.page.innerText('.feedback .success')).toBe('1 set-aside event is being applied now; 0 of another account or mode stay set aside.');
      expect(await database.db('webhook_inbox').where({ event_id: 'evt_ui_set_aside' }).first('status', 'attempts', 'last_error')).toEqual({ status: 'pending', attempts: 0, last_error: null });
      // Nothing set aside is kept any more: the row and its button are gone.
      expect(await owner.page.locator('button.reapply').count()).toBe(0);
    } finally {
      await owner.context.close();
      // No relay runs here: out of the way of the tests after, and the workspace keyless again for the Stripe page's.
      await database.db('webhook_inbox').where({ event_id: 'evt_ui_set_aside' }).update({ status: 'ignored', processed_at: database.db.fn.now() });
      await database.db('workspaces').where({ id: WS }).update({ stripe_key_ciphertext: null, livemode: false });
    }
  });

  it('shows finance no Members link, and the refusal at its address', async () => {
    const { context, page } = await loggedIn('finance');
    expect(await page.locator('a[data-page=audit]').count()).toBe(1);
    expect(await page.locator('a[data-page=members]').count()).toBe(0);
    await page.goto(`${api.url}/w/${WS}/members`);
    expect(await contentText(page)).toContain('Only owners manage members; your role is finance.');
    expect(await page.locator('table.members').count()).toBe(0);
    await shot(page, 'finance-members');
    await context.close();
  });

  it("labels the fields a workspace hides as Hidden too, even for finance", async () => {
    // Runs last: the setting hides GRR and customer counts from everyone below owner.
    expect(await storeRedactionSetting(database.db, WS, { fields: ['grr', 'customers'], visibleTo: 'owner' })).toBe(true);
    const { context, page } = await loggedIn('finance');
    await contentText(page);
    expect(await page.innerText('[data-testid=kpi-grr] .kpi-value')).toBe('Hidden');
    expect(await page.innerText('[data-testid=kpi-customers] .kpi-value')).toBe('Hidden');
    // Revenue stays visible to finance.
    expect(await page.innerText('[data-testid=kpi-mrr] .kpi-value')).toMatch(/^\$[\d,]+\.\d{2}$/);
    expect(await page.innerText('[data-testid=kpi-nrr] .kpi-value')).toMatch(/^\d+\.\d%$/);
    await shot(page, 'finance-dashboard-workspace-redaction');
    await context.close();
  });

  it("shows the Stripe connection and the sync's progress, and lets an owner connect a key and start syncs", async () => {
    const viewer = await loggedIn('viewer');
    try {
      await viewer.page.click('a[data-page=stripe]');
      await viewer.page.waitForSelector('.stripe-connection');
      const seen = await contentText(viewer.page);
      expect(seen).toContain('none: connect one so that Wysera can sync');
      expect(seen).toContain('No sync has run yet.');
      // Viewers read; only owners change.
      expect(await viewer.page.locator('form.stripe-key, button.sync-full').count()).toBe(0);
    } finally {
      await viewer.context.close();
    }

    const owner = await loggedIn('owner');
    try {
      await owner.page.click('a[data-page=stripe]');
      await owner.page.waitForSelector('form.stripe-key');
      // A full-access live key: refused by the API with the way to make a restricted one, nothing stored.
      await owner.page.fill('form.stripe-key input[name=stripeKey]', 'sk_live_fullAccess');
      await owner.page.click('form.stripe-key button[type=submit]');
      await owner.page.waitForSelector('.feedback .error');
      expect(await owner.page.innerText('.feedback .error')).toContain('full-access live secret keys (sk_live_...) are refused');
      expect((await database.db('workspaces').where({ id: WS }).first<{ stripe_key_ciphertext: string | null }>('stripe_key_ciphertext')).stripe_key_ciphertext).toBeNull();

      // The simulator's restricted key: checked against Stripe, stored, and the first sync starts.
      await owner.page.fill('form.stripe-key input[name=stripeKey]', sim.accounts[0]!.restrictedKey);
      expect(await owner.page.isChecked('form.stripe-key input[name=sync]')).toBe(true);
      await owner.page.click('form.stripe-key button[type=submit]');
      await owner.page.waitForSelector('.feedback .success');
      expect(await owner.page.innerText('.feedback .success')).toMatch(/^Key checked against Stripe and stored\..* A full sync has started\.$/);
      expect(await owner.page.innerText('.stripe-connection')).toContain('stored encrypted; never shown');
      expect(await contentText(owner.page)).not.toContain(sim.accounts[0]!.restrictedKey);
      expect(await owner.page.getAttribute('.sync-run', 'data-status')).toBe('running');
      expect(await owner.page.innerText('.sync-run')).toMatch(/Started\s+.+ UTC by you/);
      expect(await owner.page.isDisabled('button.sync-full')).toBe(true);
      // No worker polls the test's task queue: the page says the sync cannot move, not only that it runs.
      expect(await owner.page.innerText('.sync-warning[data-code=no_worker]')).toMatch(/^No worker is asking for this sync's work: it makes no progress until one runs/);
      expect(await owner.page.innerText('.sync-run')).toMatch(/Last page stored\s+\d+ s ago/);
      const run = (await latestSyncRun(database.db, WS))!;
      expect(run.status).toBe('running');

      // Pages stored as the sync stores them show up while the page is open, then the end.
      await recordPage(database.db, run.id, 'customers', { objects: 5, cursor: 'cus_x', oldestCreated: null, done: true });
      await owner.page.waitForSelector('tr[data-resource=customers]', { timeout: 10_000 });
      expect(await owner.page.innerText('tr[data-resource=customers]')).toMatch(/customers\s+5\s+1\s+done/);
      await shot(owner.page, 'owner-stripe-sync-running');
      // The kinds of warning change at a refresh (the run's workflow ended in Temporal): one
      // announcement, from a region kept across refreshes; the warnings themselves are not read again.
      await owner.page.locator('.sync-announce').evaluate((el: { setAttribute(name: string, value: string): void }) => el.setAttribute('data-kept', 'yes'));
      expect(await owner.page.textContent('.sync-announce')).toBe('');
      const temporal = createTemporalClient({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default' });
      try {
        await temporal.client.workflow.getHandle(syncWorkflowId(WS, run.id)).terminate('test: ended by hand');
      } finally {
        await temporal.connection.close();
      }
      await owner.page.waitForSelector('.sync-warning[data-code=workflow_closed]', { timeout: 10_000 });
      expect(await owner.page.getAttribute('.sync-announce', 'data-kept')).toBe('yes');
      expect(await owner.page.textContent('.sync-announce')).toBe("This sync has warnings: the sync's workflow has ended.");
      expect(await owner.page.getAttribute('.sync-warnings', 'aria-live')).toBeNull();
      await finishSyncRun(database.db, run.id, { status: 'completed' });
      await owner.page.waitForSelector('.sync-run[data-status=completed]', { timeout: 10_000 });
      expect(await owner.page.isDisabled('button.sync-full')).toBe(false);

      // A sync of what was created since a day, started while a plan's name is being edited: the edit stays.
      const planName = owner.page.locator('form.plan-mapping input[name=planName]').first();
      await planName.fill('Renamed, not saved yet');
      await owner.page.fill('form.sync-since input[name=since]', '2026-01-15');
      await owner.page.click('form.sync-since button[type=submit]');
      await owner.page.waitForSelector('.feedback .success');
      expect(await owner.page.innerText('.feedback .success')).toBe('Sync started: what was created since 2026-01-15 is read again.');
      expect(await owner.page.locator('form.plan-mapping input[name=planName]').first().inputValue()).toBe('Renamed, not saved yet');
      const since = (await latestSyncRun(database.db, WS))!;
      expect([since.mode, since.windowStart?.toISOString(), since.status]).toEqual(['since', '2026-01-15T00:00:00.000Z', 'running']);
      await shot(owner.page, 'owner-stripe-sync-since');

      // A failed run shows its error, and no warning about a run that has ended.
      await finishSyncRun(database.db, since.id, { status: 'failed', error: 'Stripe refused the charges list: permission missing' });
      await owner.page.waitForSelector('.sync-run[data-status=failed]', { timeout: 10_000 });
      expect(await owner.page.innerText('pre.sync-error')).toBe('Stripe refused the charges list: permission missing');
      expect(await owner.page.locator('.sync-warning').count()).toBe(0);

      // A sync started elsewhere (through the API, its workflow running) after the page was drawn: the page's start is refused and says why.
      const token = (await createApiToken(database.db, { workspaceId: WS, role: 'owner', name: 'elsewhere', createdBy: 'test' })).token;
      const elsewhere = await api.request('POST', `/workspaces/${WS}/sync`, { token, body: { mode: 'full' } });
      expect(elsewhere.status).toBe(202);
      const elsewhereId = (elsewhere.body as { runId: string }).runId;
      await owner.page.click('button.sync-full');
      await owner.page.waitForSelector('.feedback .error');
      expect(await owner.page.innerText('.feedback .error')).toContain(`is already running (${elsewhereId})`);
      expect(await owner.page.isDisabled('button.sync-full')).toBe(false);
      await finishSyncRun(database.db, elsewhereId, { status: 'completed' });
    } finally {
      await owner.context.close();
    }
    const audit = await database.db('audit_log').where({ workspace_id: WS }).whereIn('action', ['workspace.stripe_key_connected', 'sync.started']).orderBy('id').select('action');
    // The sync since a day and the one started elsewhere; the refused start records nothing.
    expect(audit.map((a: { action: string }) => a.action)).toEqual(['workspace.stripe_key_connected', 'sync.started', 'sync.started']);
  });

  it('lets someone who forgot a password ask for a link by email and set a new one with it', async () => {
    // A server that can send: its own email receiver, and links to its own address.
    const receiver = await startEmailReceiver();
    await findOrCreateUser(database.db, keyring, 'forgetful@ui.example', PASSWORD);
    const sender = createSendGridSender({ apiKey: 'SG.ui', baseUrl: receiver.url });
    const mailing = await startApi(database.db, keyring, { passwordResetMail: { sender, from: 'accounts@ui.example', publicUrl: 'http://public.ui.example' } });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${mailing.url}/login`);
      await page.click('a:has-text("Forgot your password?")');
      await page.waitForURL(`${mailing.url}/forgot-password`);
      await page.fill('input[name=email]', 'forgetful@ui.example');
      await page.click('button[type=submit]');
      await page.waitForSelector('.success');
      expect(await page.innerText('.success')).toContain('If an account uses this email, a link to set a new password is on its way.');
      await shot(page, 'forgot-password');
      const [message] = await receiver.waitForMessages(1);
      const text = message!.body.content!.find((c) => c.type === 'text/plain')!.value;
      // The emailed link points at the public URL; here it is followed on the test server's address.
      const link = /http:\/\/public\.ui\.example(\/reset-password#token=[A-Za-z0-9_-]+)/.exec(text)![1]!;
      await page.goto(`${mailing.url}${link}`);
      await page.waitForSelector('input[name=newPassword]');
      // The token leaves the address bar at once.
      expect(page.url()).toBe(`${mailing.url}/reset-password`);
      // The page opens with the focus on the new password.
      expect(await page.locator('input[name=newPassword]').evaluate((el: { ownerDocument: { activeElement: unknown } }) => el.ownerDocument.activeElement === el)).toBe(true);
      await page.fill('input[name=newPassword]', 'a new password for the ui');
      await page.fill('input[name=repeatPassword]', 'a new password, mistyped');
      await page.click('button[type=submit]');
      expect(await page.innerText('.error')).toBe('the two new passwords differ; type the same one twice');
      await page.fill('input[name=repeatPassword]', 'a new password for the ui');
      await page.click('button[type=submit]');
      await page.waitForSelector('.success');
      expect(await page.innerText('.success')).toContain('Your new password is set');
      await shot(page, 'reset-password-done');
      await page.click('a:has-text("Log in")');
      await page.waitForURL(`${mailing.url}/login`);
      await page.fill('input[name=email]', 'forgetful@ui.example');
      await page.fill('input[name=password]', 'a new password for the ui');
      await page.click('button[type=submit]');
      await page.waitForURL((url) => url.pathname !== '/login');
    } finally {
      await context.close();
      await mailing.close();
      await receiver.close();
    }
  });
});
