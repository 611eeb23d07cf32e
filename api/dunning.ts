import { Router } from 'express';
import Stripe from 'stripe';
import { Client, type Connection } from '@temporalio/client';
import { z } from 'zod';
import { buildDunningFacts, dunningConfigSchema, dunningSchedule, DUNNING_PLAY } from '../activities/dunning';
import { rereadIfMirrorBehind } from '../activities/invoice-mirror';
import { StripeKeyMissingError, StripeNotFoundError, StripeUnavailableError, type StripeReader } from '../activities/stripe-reader';
import { appendAudit } from '../db/audit';
import { listDunningCases } from '../db/dunning-cases';
import type { Knex } from '../db/knex';
import { senderHold } from '../db/sends';
import { findWorkspace } from '../db/workspaces';
import {
  deleteTemplateOverride,
  getEmailSettings,
  getPlaySettings,
  lockPlaySettings,
  listTemplateOverrides,
  putEmailSettings,
  putPlaySettings,
  putTemplateOverride,
} from '../db/play-settings';
import { CHURN_INTERVENTIONS, CHURN_PLAY, churnConfigSchema, churnSettings, DEFAULT_CHURN_TEMPLATES, exampleChurnFacts, type InterventionKind } from '../domain/churn-save';
import { emailFacts } from '../domain/outreach-facts';
import { DEFAULT_EXPANSION_TEMPLATES, EXPANSION_PLAY, EXPANSION_TRIGGERS, expansionConfigSchema, expansionSettings, exampleExpansionFacts, type ExpansionPitchFacts, type ExpansionTrigger } from '../domain/expansion';
import { DEFAULT_RENEWAL_TEMPLATES, exampleRenewalFacts, RENEWAL_FOLDS, RENEWAL_PLAY, renewalConfigSchema, renewalSettings, type RenewalFold } from '../domain/renewal';
import { DEFAULT_DUNNING_SCHEDULE, DUNNING_TONES, inDayOrder, scheduleProblems, type DunningTone } from '../domain/dunning-schedule';
import { recoveryReport } from '../domain/dunning-recovery';
import { HIDDEN_FACT, hideActivityFacts, hideMoneyFacts, hidesActivity, printsRawAmount } from '../domain/redaction';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS, stepFacts, type DunningFacts } from '../domain/dunning-templates';
import { ROLLOUT_MODES } from '../domain/rollout';
import { renderTemplate, TemplateError, templateProblems, type EmailTemplate } from '../domain/templates';
import { emailProviderSchema } from '../email/provider-config';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import { dunningWorkflowId } from '../workflows/ids';
import { dunningEventSignal, playSettingsChangedSignal } from '../workflows/play-messages';
import { PLAYS } from './drafts';
import { actorName } from './actor-labels';
import { authOf, requireWorkspaceRole } from './auth';
import { redactionOf } from './redaction';
import { HttpError, parseOr400 } from './errors';
import { DAY_MS } from '../domain/durations';

export interface PlaysRouterDeps {
  db: Knex;
  temporal: Connection;
  namespace: string;
  log: Logger;
  /** Seals a workspace's own email-provider key. */
  keyring: Keyring;
  /** Stripe reads and the out-of-band payment; without it those routes answer 503. */
  stripe?: StripeReader | undefined;
}

const settingsBody = z
  .strictObject({
    mode: z.enum(ROLLOUT_MODES),
    autoPercentage: z.number().int().min(0).max(100).nullable().default(null),
    /** Absent: the play's stored config stays as it is (a mode change alone). */
    config: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((b) => b.autoPercentage === null || b.mode === 'auto', { message: 'autoPercentage applies only to mode auto', path: ['autoPercentage'] });

const emailSettingsBody = z.strictObject({
  fromEmail: z.email(),
  fromName: z.string().trim().min(1).max(100).nullable().default(null),
  replyTo: z.email().nullable().default(null),
  /** The workspace's own provider; null removes it, absent keeps what is stored. */
  provider: emailProviderSchema.nullable().optional(),
});

const templateBody = z.strictObject({ subject: z.string().min(1).max(2000), html: z.string().min(1).max(200_000), text: z.string().min(1).max(200_000) });

const dunningPreview = z.strictObject({
  play: z.literal(DUNNING_PLAY),
  templateKey: z.enum(DUNNING_TONES),
  /** Without one, the email is rendered for an imaginary customer (EXAMPLE_DUNNING_FACTS). */
  customerId: z.string().min(1).max(255).optional(),
  invoiceId: z.string().min(1).max(255).optional(),
  /** A template to try instead of the stored one. */
  template: templateBody.optional(),
}).refine((b) => b.invoiceId === undefined || b.customerId !== undefined, { message: 'invoiceId needs the customerId it belongs to', path: ['invoiceId'] });
/** A churn save's email, rendered for an imaginary customer offered that intervention (a real one is offered what their reasons call for). */
const churnPreview = z.strictObject({
  play: z.literal(CHURN_PLAY),
  templateKey: z.enum(CHURN_INTERVENTIONS),
  template: templateBody.optional(),
});
/** An expansion pitch's email, rendered for an imaginary customer near a limit or who added seats. */
const expansionPreview = z.strictObject({
  play: z.literal(EXPANSION_PLAY),
  templateKey: z.enum(EXPANSION_TRIGGERS),
  template: templateBody.optional(),
});
/** A renewal note's email, rendered for an imaginary customer of that fold. */
const renewalPreview = z.strictObject({
  play: z.literal(RENEWAL_PLAY),
  templateKey: z.enum(RENEWAL_FOLDS),
  template: templateBody.optional(),
});
const previewBody = z.discriminatedUnion('play', [dunningPreview, churnPreview, expansionPreview, renewalPreview], { error: 'a play with templates (dunning, churn, expansion or renewal) and its templateKey' });

const day = z.iso.date({ error: 'a date as YYYY-MM-DD' });
const recoveryQuery = z
  .strictObject({ from: day.optional(), to: day.optional() })
  .refine((q) => !q.from || !q.to || q.from < q.to, { message: 'from must be before to', path: ['from'] });

const playParam = z.enum(PLAYS);

/** The plays whose config is a set of settings with defaults: the schema a PUT is checked against, and how the stored config reads. */
const PLAY_CONFIGS: Record<string, { schema: z.ZodType<Record<string, unknown>>; read: (config: Record<string, unknown>) => Record<string, unknown> }> = {
  [CHURN_PLAY]: { schema: churnConfigSchema, read: churnSettings },
  [EXPANSION_PLAY]: { schema: expansionConfigSchema, read: expansionSettings },
  [RENEWAL_PLAY]: { schema: renewalConfigSchema, read: renewalSettings },
};

/** A play's stored config as it reads: dunning's schedule and the other plays' settings with their defaults (the stored one when still valid). */
const configAsRead = (play: string, config: Record<string, unknown>): Record<string, unknown> =>
  play === DUNNING_PLAY ? { ...dunningSchedule(config) } : (PLAY_CONFIGS[play]?.read(config) ?? config);

/** The imaginary customer a play's template is checked and previewed against: who it is from and to, and what else the play cites. */
type ExampleFacts = { company: { name: string }; customer: { email: string | null } };

/**
 * Each play's templates a workspace may override: their keys, the built-in ones, and
 * the imaginary facts an override is checked against before it is stored: the
 * customer it is written for (`example`), and the same customer with every fact that
 * can be null for that template null (`sparse`: no plan name the mirror knows, a price
 * it cannot work out, no tenure or usage to cite...), since printing a null fails a
 * draft's render and the override then gives way to the built-in template.
 */
const TEMPLATE_SETS = {
  [DUNNING_PLAY]: {
    keys: DUNNING_TONES,
    builtIn: (key: string) => DEFAULT_DUNNING_TEMPLATES[key as DunningTone],
    example: (): object => EXAMPLE_DUNNING_FACTS,
    sparse: (): object[] => {
      const f = EXAMPLE_DUNNING_FACTS;
      const sparse: DunningFacts = { ...f, customer: { ...f.customer, email: null, customerSince: null, tenureMonths: null }, plan: null, invoice: { ...f.invoice, number: null, hostedUrl: null, nextRetryAt: null }, usage: null };
      return [sparse];
    },
  },
  [CHURN_PLAY]: {
    keys: CHURN_INTERVENTIONS,
    builtIn: (key: string) => DEFAULT_CHURN_TEMPLATES[key as InterventionKind],
    example: (key: string): ExampleFacts => emailFacts(exampleChurnFacts(key as InterventionKind)),
    // A downgrade or credits are offered on a plan (whose product may have no name); a success call may also be offered to a customer with none, and without a booking link.
    sparse: (key: string): ExampleFacts[] => {
      const f = exampleChurnFacts(key as InterventionKind);
      const bare = { ...f, customer: { ...f.customer, tenureMonths: null }, usage: null, intervention: { ...f.intervention, bookingUrl: null } };
      const nameless = emailFacts({ ...bare, plan: f.plan && { ...f.plan, name: null } });
      return key === 'success_call' ? [nameless, emailFacts({ ...bare, plan: null })] : [nameless];
    },
  },
  [EXPANSION_PLAY]: {
    keys: EXPANSION_TRIGGERS,
    builtIn: (key: string) => DEFAULT_EXPANSION_TEMPLATES[key as ExpansionTrigger],
    example: (key: string): ExampleFacts => exampleExpansionFacts(key as ExpansionTrigger),
    // The plan pitched may have no price on the customer's terms, nor a limit to state.
    sparse: (key: string): ExampleFacts[] => {
      const f = exampleExpansionFacts(key as ExpansionTrigger);
      const sparse: ExpansionPitchFacts = { ...f, customer: { ...f.customer, tenureMonths: null }, plan: f.plan && { ...f.plan, name: null }, target: { ...f.target, price: null, period: null, allows: null } };
      return [sparse];
    },
  },
  [RENEWAL_PLAY]: {
    keys: RENEWAL_FOLDS,
    builtIn: (key: string) => DEFAULT_RENEWAL_TEMPLATES[key as RenewalFold],
    example: (key: string): ExampleFacts => emailFacts(exampleRenewalFacts(key as RenewalFold)),
    // A renewal whose amount the mirror cannot tell, of a product it has no name for; a save folds in whichever offer the radar chose.
    sparse: (key: string): ExampleFacts[] => {
      const f = exampleRenewalFacts(key as RenewalFold);
      const upgrade = f.upgrade && { ...f.upgrade, target: { ...f.upgrade.target, price: null, period: null, allows: null } };
      const sparse = { ...f, customer: { ...f.customer, tenureMonths: null }, plan: { ...f.plan, name: null, price: null, listPrice: null }, usage: null, upgrade };
      const offers = f.intervention ? CHURN_INTERVENTIONS.map((kind) => ({ ...exampleChurnFacts(kind).intervention, bookingUrl: null })) : [null];
      return offers.map((intervention) => emailFacts({ ...sparse, intervention }));
    },
  },
} as const;
/** How many running workflows a settings change signals at once. */
const SIGNALS_AT_ONCE = 20;
const templatePlay = z.enum([DUNNING_PLAY, CHURN_PLAY, EXPANSION_PLAY, RENEWAL_PLAY], { error: 'dunning, churn, expansion or renewal (the plays with templates)' });
/** The play named in the path and its template set. */
const templatesOf = (params: { play?: unknown }) => {
  const play = parseOr400(templatePlay, params.play, 'play');
  return { play, set: TEMPLATE_SETS[play] };
};
/** The play and the template key named in the path, the key checked against the play's. */
const templateOf = (params: { play?: unknown; key?: unknown }) => {
  const { play, set } = templatesOf(params);
  return { play, set, key: parseOr400(z.enum(set.keys), params.key, 'template key') };
};

/** Renders a template for a preview; a stored override that fails against these facts is a 400 naming its problems. */
function renderOr400(template: EmailTemplate, facts: object, noteOnFailure?: () => string | undefined) {
  try {
    return renderTemplate(template, facts);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    const note = noteOnFailure?.();
    throw new HttpError(400, `invalid template: ${err.message}${note ? ` (${note})` : ''}`, { problems: err.problems });
  }
}

/** Rejects a template with each part's line and problem. */
function checkTemplate(t: EmailTemplate, example: object = EXAMPLE_DUNNING_FACTS): void {
  const problems = templateProblems(t, example);
  if (problems.length) {
    throw new HttpError(400, `invalid template: ${new TemplateError(problems).message}`, { problems });
  }
}

/**
 * A template to be stored: usable with each of its play's examples (the customer it is
 * written for, and the same with every fact that can be null null), and writing amounts
 * only through `money`, which the drafts' redaction finds.
 */
function checkStoredTemplate(t: EmailTemplate, [example, ...others]: readonly [object, ...object[]]): void {
  checkTemplate(t, example);
  if (printsRawAmount(t, example)) {
    throw new HttpError(400, 'invalid template: it prints an amount other than through the money filter (such as {{ invoice.amountDue.amount }}); write amounts as {{ invoice.amountDue | money }}, so drafts can hide them from roles that may not see revenue');
  }
  for (const other of others) checkTemplate(t, other);
}

/** A Stripe read's failure for `workspaceId` as the answer to give. */
const stripeError = (workspaceId: string) => (err: unknown): never => {
  if (err instanceof StripeUnavailableError) throw new HttpError(503, `${err.message}; try again shortly`);
  if (err instanceof StripeNotFoundError) throw new HttpError(404, err.message);
  // The caller is authenticated to the workspace, so it exists: only the key can be missing.
  if (err instanceof StripeKeyMissingError) throw new HttpError(409, `the workspace has no Stripe key yet: an owner connects one with PUT /workspaces/${workspaceId}/stripe-key`);
  if (err instanceof Stripe.errors.StripeError && err.statusCode && err.statusCode < 500) throw new HttpError(409, `Stripe refused: ${err.message}`);
  throw err;
};

/**
 * Play settings (rollout mode, dunning's steps), the from-address, templates and
 * their preview, dunning's recovery analytics and "mark paid out of band", the only
 * write Wysera makes to Stripe.
 */
export function playsRouter(deps: PlaysRouterDeps): Router {
  const router = Router();
  const client = new Client({ connection: deps.temporal, namespace: deps.namespace });
  const stripe = (): StripeReader => {
    if (!deps.stripe) throw new HttpError(503, 'Stripe is not configured for this API process');
    return deps.stripe;
  };

  /**
   * Tells the play's running workflows in the workspace (found through the search
   * attributes) that its settings changed, so one waiting for a review re-reads the
   * mode now. Best effort: each re-reads the setting before every step anyway.
   */
  const notifyRunning = async (workspaceId: string, play: string): Promise<number> => {
    let notified = 0;
    // Signalled a few at a time: one after another, a workspace with thousands running would hold the request for long.
    let batch: { workflowId: string; runId: string }[] = [];
    const signalBatch = async () => {
      await Promise.all(
        batch.map((wf) =>
          client.workflow.getHandle(wf.workflowId, wf.runId).signal(playSettingsChangedSignal).then(
            () => void notified++,
            (err: unknown) => deps.log.info({ err: (err as Error).message, workflowId: wf.workflowId }, 'settings changed: workflow not told'),
          ),
        ),
      );
      batch = [];
    };
    try {
      const query = `WyseraWorkspaceId = '${workspaceId.replace(/'/g, '')}' AND WyseraPlay = '${play}' AND ExecutionStatus = 'Running'`;
      for await (const wf of client.workflow.list({ query, pageSize: 500 })) {
        batch.push({ workflowId: wf.workflowId, runId: wf.runId });
        if (batch.length >= SIGNALS_AT_ONCE) await signalBatch();
        if (notified >= 10_000) break;
      }
      await signalBatch();
    } catch (err) {
      deps.log.warn({ err: (err as Error).message, workspaceId, play }, 'settings changed: running workflows not listed; they see it at their next step');
    }
    return notified;
  };

  router.get('/workspaces/:workspaceId/plays/:play/settings', requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const play = parseOr400(playParam, req.params.play, 'play');
    const s = await getPlaySettings(deps.db, auth.workspaceId, play);
    res.json({
      play,
      mode: s.rollout.mode,
      autoPercentage: s.rollout.autoPercentage,
      config: configAsRead(play, s.config),
      updatedBy: s.updatedBy,
      updatedByName: await actorName(deps.db, deps.keyring, auth.workspaceId, s.updatedBy, auth.role),
      updatedAt: s.updatedAt,
    });
  });

  // A new mode reaches running workflows at their next step, or within hours while
  // one waits for a review: each re-reads the setting before it acts.
  router.put('/workspaces/:workspaceId/plays/:play/settings', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const play = parseOr400(playParam, req.params.play, 'play');
    const body = parseOr400(settingsBody, req.body, 'body');
    const s = await deps.db.transaction(async (trx) => {
      // One change of a play's settings at a time: a mode-only PUT keeps the config it read, and must not undo another's.
      await lockPlaySettings(trx, auth.workspaceId, play);
      // A mode change alone keeps the play's config (as it reads now); an empty one sets the defaults.
      const given = body.config ?? configAsRead(play, (await getPlaySettings(trx, auth.workspaceId, play)).config);
      let config: Record<string, unknown> = given;
      if (play === DUNNING_PLAY) {
        const parsed = parseOr400(dunningConfigSchema, Object.keys(given).length ? given : DEFAULT_DUNNING_SCHEDULE, 'config');
        const problems = scheduleProblems(parsed);
        if (problems.length) throw new HttpError(400, `invalid config: ${problems.join('; ')}`);
        config = inDayOrder(parsed);
      } else if (PLAY_CONFIGS[play]) {
        config = parseOr400(PLAY_CONFIGS[play].schema, given, 'config');
      }
      return putPlaySettings(trx, auth.workspaceId, play, { rollout: { mode: body.mode, autoPercentage: body.autoPercentage }, config }, auth.actor);
    });
    const workflowsNotified = await notifyRunning(auth.workspaceId, play);
    res.json({ play, mode: s.rollout.mode, autoPercentage: s.rollout.autoPercentage, config: s.config, updatedBy: s.updatedBy, updatedAt: s.updatedAt, workflowsNotified });
  });

  router.get('/workspaces/:workspaceId/email-settings', requireWorkspaceRole('viewer'), async (_req, res) => {
    const auth = authOf(res);
    // With the sends held because the provider refused the sender: the page says what to put right.
    const [emailSettings, hold] = await Promise.all([getEmailSettings(deps.db, auth.workspaceId), senderHold(deps.db, auth.workspaceId)]);
    res.json({ emailSettings: emailSettings ?? null, senderHold: hold });
  });

  router.put('/workspaces/:workspaceId/email-settings', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(emailSettingsBody, req.body, 'body');
    const { provider, ...from } = body;
    const emailSettings = await putEmailSettings(deps.db, auth.workspaceId, { ...from, ...(provider === undefined ? {} : { provider }) }, auth.actor, deps.keyring);
    // A one-email play's draft may be waiting for a sender (workflows/outreach.ts): while the
    // workspace had no from-address or no provider, or while its provider refused the sender.
    // Every save wakes those plays' workflows to try again now: a refusal is often put right
    // at the provider (a sender verified there, a key's permissions restored), and saving the
    // settings again is how an owner says so; a woken workflow that need not send waits on.
    let workflowsNotified = 0;
    for (const play of [CHURN_PLAY, EXPANSION_PLAY, RENEWAL_PLAY]) workflowsNotified += await notifyRunning(auth.workspaceId, play);
    // The held sends as they stand: the woken workflows retry them after this answer.
    res.json({ emailSettings, workflowsNotified, senderHold: await senderHold(deps.db, auth.workspaceId) });
  });

  router.get('/workspaces/:workspaceId/templates/:play', requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const { play, set } = templatesOf(req.params);
    const overrides = await listTemplateOverrides(deps.db, auth.workspaceId, play);
    res.json({
      play,
      templates: set.keys.map((key) => ({ key, overridden: key in overrides, template: overrides[key] ?? set.builtIn(key), builtIn: set.builtIn(key) })),
    });
  });

  router.put('/workspaces/:workspaceId/templates/:play/:key', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const { play, set, key } = templateOf(req.params);
    const body = parseOr400(templateBody, req.body, 'body');
    checkStoredTemplate(body, [set.example(key), ...set.sparse(key)]);
    await putTemplateOverride(deps.db, auth.workspaceId, play, key, body, auth.actor);
    res.json({ play, key, template: body });
  });

  router.delete('/workspaces/:workspaceId/templates/:play/:key', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const { play, set, key } = templateOf(req.params);
    if (!(await deleteTemplateOverride(deps.db, auth.workspaceId, play, key, auth.actor))) throw new HttpError(404, `no override of ${play}.${key}`);
    res.json({ play, key, template: set.builtIn(key) });
  });

  router.post('/workspaces/:workspaceId/templates/preview', requireWorkspaceRole('member'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(previewBody, req.body, 'body');
    if (body.play !== DUNNING_PLAY) {
      // The plays whose previews are of an imaginary customer (a real one's offer or pitch depends on the day's scores and use).
      const set = TEMPLATE_SETS[body.play];
      const facts = set.example(body.templateKey);
      if (body.template) checkTemplate(body.template, facts);
      const workspace = await findWorkspace(deps.db, auth.workspaceId);
      const cited = { ...facts, company: { name: workspace?.name ?? facts.company.name } };
      const overrides = await listTemplateOverrides(deps.db, auth.workspaceId, body.play);
      const rendered = renderOr400(body.template ?? overrides[body.templateKey] ?? set.builtIn(body.templateKey), cited);
      res.json({ to: cited.customer.email, ...rendered, facts: cited });
      return;
    }
    if (body.template) checkTemplate(body.template);
    // The step as the workspace's schedule places this tone (its first use), as the email would cite it.
    const schedule = dunningSchedule((await getPlaySettings(deps.db, auth.workspaceId, DUNNING_PLAY)).config);
    const scheduled = schedule.steps.findIndex((st) => st.tone === body.templateKey);
    const [index, total] = scheduled >= 0 ? [scheduled, schedule.steps.length] : [DUNNING_TONES.indexOf(body.templateKey), DUNNING_TONES.length];
    let built: { facts: DunningFacts; to: string | null };
    if (body.customerId === undefined) {
      const workspace = await findWorkspace(deps.db, auth.workspaceId);
      const facts: DunningFacts = { ...EXAMPLE_DUNNING_FACTS, company: { name: workspace?.name ?? EXAMPLE_DUNNING_FACTS.company.name }, step: stepFacts(index, body.templateKey, total) };
      built = { facts, to: EXAMPLE_DUNNING_FACTS.customer.email };
    } else {
      const customerId = body.customerId;
      const invoiceId = body.invoiceId ?? (await latestInvoiceOf(deps.db, auth.workspaceId, customerId));
      if (!invoiceId) throw new HttpError(404, `no invoice of customer ${customerId} is known; pass invoiceId`);
      const read = await buildDunningFacts({ db: deps.db, stripe: stripe() }, { workspaceId: auth.workspaceId, customerId, invoiceId }, { index, tone: body.templateKey }, total).catch(stripeError(auth.workspaceId));
      if (!read) throw new HttpError(404, `Stripe has no invoice ${invoiceId}`);
      built = read;
    }
    const overrides = await listTemplateOverrides(deps.db, auth.workspaceId, body.play);
    const template = body.template ?? overrides[body.templateKey] ?? DEFAULT_DUNNING_TEMPLATES[body.templateKey];
    // A real customer's usage where the workspace hides the product's activity from the caller: not given to the template at all, so no filter can show it.
    const hidden = redactionOf(res).policy.fields;
    if (body.customerId !== undefined) built = { ...built, facts: hideActivityFacts(built.facts as unknown as Record<string, unknown>, hidden) as unknown as DunningFacts };
    // A real customer's amounts are revenue: below finance the template is given them hidden, so
    // whatever it prints of them (`| money`, `.amount`) reads as hidden, as in a draft (the facts
    // are redacted on the way out too).
    const hideRevenue = body.customerId !== undefined && redactionOf(res).policy.revenue;
    const facts = hideRevenue ? hideMoneyFacts(built.facts) : built.facts;
    // A template that fails only for want of the usage a role never gets says so, whether or
    // not this customer has any (which the role may not learn): with a stand-in it renders.
    const failsForHiddenUsage = () =>
      body.customerId !== undefined && hidesActivity(hidden) && templateProblems(template, { ...facts, usage: { summary: HIDDEN_FACT } }).length === 0
        ? 'usage is hidden from your role, so a preview gives the template none: write it inside {% if usage %}'
        : undefined;
    const rendered = renderOr400(template, facts, failsForHiddenUsage);
    res.json({ to: built.to, ...rendered, facts: built.facts });
  });

  router.post('/workspaces/:workspaceId/invoices/:invoiceId/paid-out-of-band', requireWorkspaceRole('finance'), async (req, res) => {
    const auth = authOf(res);
    const invoiceId = parseOr400(z.string().regex(/^in_[A-Za-z0-9_]+$/, 'a Stripe invoice id (in_...)'), req.params.invoiceId, 'invoiceId');
    const reader = stripe();
    const before = await reader.invoice(auth.workspaceId, invoiceId).catch(stripeError(auth.workspaceId));
    if (!before) throw new HttpError(404, `Stripe has no invoice ${invoiceId}`);
    const after = await reader.payOutOfBand(auth.workspaceId, invoiceId).catch(stripeError(auth.workspaceId));
    await appendAudit(deps.db, {
      workspaceId: auth.workspaceId,
      actor: auth.actor,
      action: 'invoice.paid_out_of_band',
      targetType: 'invoice',
      targetId: invoiceId,
      before: { status: before.status, amountRemaining: before.amountRemaining, currency: before.currency },
      after: { status: after.status, amountRemaining: after.amountRemaining, currency: after.currency },
    });
    // Stripe announces this with invoice.paid alone, not a subscribed event: the mirror
    // would hold the invoice open (and MRR count it unpaid) until the next sync.
    await rereadIfMirrorBehind(deps, { workspaceId: auth.workspaceId, invoiceId, customerId: after.customerId || null, stripeStatus: after.status }, 'marked_paid_out_of_band');
    let dunningStopped = false;
    try {
      await client.workflow.getHandle(dunningWorkflowId(auth.workspaceId, invoiceId)).signal(dunningEventSignal, { kind: 'paid_out_of_band', eventId: null, subscriptionId: null, at: new Date().toISOString() });
      dunningStopped = true;
    } catch (err) {
      // No dunning running for it (or Temporal unreachable: its next send re-reads the invoice and stops).
      deps.log.info({ err: (err as Error).message, invoiceId }, 'paid out of band: no running dunning was told');
    }
    res.json({ invoice: { id: after.id, status: after.status, amountRemaining: after.amountRemaining, currency: after.currency }, dunningStopped });
  });

  router.get('/workspaces/:workspaceId/dunning/recovery', requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const q = parseOr400(recoveryQuery, req.query, 'query');
    const to = q.to ? new Date(`${q.to}T00:00:00Z`) : new Date(Date.now() + DAY_MS);
    const from = q.from ? new Date(`${q.from}T00:00:00Z`) : new Date(to.getTime() - 90 * DAY_MS);
    const report = recoveryReport(await listDunningCases(deps.db, auth.workspaceId, from, to));
    // Amounts are revenue figures; rates and counts are not.
    const shown = redactionOf(res).apply(report);
    res.json({ from: from.toISOString(), to: to.toISOString(), currencies: shown });
  });

  return router;
}

async function latestInvoiceOf(db: Knex, workspaceId: string, customerId: string): Promise<string | undefined> {
  const row = await db<{ id: string; workspace_id: string; customer_id: string; created: Date }>('stripe_invoices').select('id').where({ workspace_id: workspaceId, customer_id: customerId }).orderBy('created', 'desc').first();
  return row?.id;
}
