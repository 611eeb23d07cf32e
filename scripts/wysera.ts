/**
 * The Wysera command line, a client of the HTTP API.
 *
 *   npm run wysera -- workspace create --name Acme [--stripe-key rk_...] [--webhook-secret whsec_...]
 *                     [--stripe-account acct_...] [--history-months 24] [--rate-limit 20] [--no-sync] [--watch]
 *   npm run wysera -- workspace set-key [--stripe-key rk_...] [--stripe-account acct_...] [--sync | --no-sync]
 *                                                               replace (or first connect) the Stripe key
 *   npm run wysera -- workspace set-webhook-secret [--webhook-secret whsec_...]
 *                                                               replace the webhook signing secret
 *   npm run wysera -- sync [--since 2025-01-01] [--watch]       start a re-sync (full, or since a date)
 *   npm run wysera -- sync status [--watch]                      progress of the latest sync
 *   npm run wysera -- signals send [file.ndjson] [--replace]     product signals, one JSON signal a line
 *                                                               (stdin without a file), sent 1,000 (or 200 kB) a request;
 *                                                               --replace: ones sent before under the same ids are corrected
 *   npm run wysera -- signals delete <id> [<id> ...]             delete signals sent by mistake
 *
 * Environment: WYSERA_API_URL (default http://127.0.0.1:3000), WYSERA_OPERATOR_TOKEN
 * (workspace create), WYSERA_TOKEN and WYSERA_WORKSPACE (an owner's, for the others; a member's
 * for signals), and STRIPE_API_KEY /
 * STRIPE_WEBHOOK_SECRET instead of the flags, which keeps secrets out of the process list.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { syncWarnings, type SyncLiveness } from '../domain/sync-liveness';
import { progressBar, terminalRows, type ResourceEstimate } from '../domain/sync-progress';

type Json = Record<string, unknown>;

class CliError extends Error {}

const api = (process.env.WYSERA_API_URL ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}`).replace(/\/$/, '');

/** How many times the CLI waits out a rate limit on one request before it gives up (a minute's window, with room). */
const RATE_LIMIT_WAITS = 5;
/** The longest wait it takes on: a longer Retry-After (the failed-authentication limit's quarter of an hour) ends the run with the API's message. */
const RATE_LIMIT_LONGEST_WAIT_S = 120;

async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<Json> {
  if (!token) throw new CliError(`${method} ${path} needs a token: set ${path === '/workspaces' ? 'WYSERA_OPERATOR_TOKEN' : 'WYSERA_TOKEN (or --token)'}`);
  let res: Response;
  for (let waits = 0; ; waits++) {
    try {
      res = await fetch(`${api}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new CliError(`cannot reach the Wysera API at ${api} (${(err as Error).message}); is it running (npm start)?`);
    }
    // A rate limit (the signals' per caller): wait as long as the API says, then send the same request again.
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status !== 429 || !(retryAfter > 0) || retryAfter > RATE_LIMIT_LONGEST_WAIT_S || waits >= RATE_LIMIT_WAITS) break;
    await res.body?.cancel();
    process.stderr.write(`the API asks to wait before the next request: waiting ${retryAfter} s\n`);
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
  }
  const json = (await res.json().catch(() => ({}))) as Json;
  if (!res.ok) {
    const e = json.error as { message?: string } | undefined;
    throw new CliError(`${method} ${path} answered ${res.status}: ${e?.message ?? JSON.stringify(json)}`);
  }
  return json;
}

interface SyncView {
  run: { runId: string; status: string; error: string | null; mode: string } | null;
  resources: ResourceEstimate[];
  etaSeconds: number | null;
  liveness: SyncLiveness | null;
}

/** Prints the progress bars of the latest sync until it ends (redrawn in place on a terminal). */
async function watch(workspaceId: string, token: string): Promise<SyncView> {
  const tty = process.stderr.isTTY;
  let drawn = 0;
  for (;;) {
    const view = (await call('GET', `/workspaces/${workspaceId}/sync`, token)) as unknown as SyncView;
    if (!view.run) throw new CliError('this workspace has never been synced');
    const lines = [
      `sync ${view.run.runId} (${view.run.mode}): ${view.run.status}${view.etaSeconds ? `, about ${view.etaSeconds} s left` : ''}`,
      ...view.resources.map((r) => `  ${progressBar(r)}`),
      ...(view.liveness ? syncWarnings(view.liveness, new Date()).map((w) => `  ! ${w.message}`) : []),
    ];
    // Redrawn in place by moving up the rows drawn, unless they no longer all fit on the
    // screen: the cursor cannot go above its top, so the view is printed again below.
    if (tty && drawn && drawn < (process.stderr.rows || Infinity)) process.stderr.write(`\x1b[${drawn}A\x1b[0J`);
    process.stderr.write(`${lines.join('\n')}\n`);
    drawn = terminalRows(lines, process.stderr.columns || 80);
    if (view.run.status !== 'running') {
      if (view.run.status === 'failed') throw new CliError(`the sync failed: ${view.run.error ?? 'unknown error'}`);
      return view;
    }
    await new Promise((r) => setTimeout(r, tty ? 500 : 2000));
  }
}

/** The API's limit of signals a request, and (under its 256 kB body limit) of a request's bytes: signals with long ids fill a request before 1,000. */
const SIGNALS_PER_REQUEST = 1000;
const BYTES_PER_REQUEST = 200_000;

/** A set of ids the API names (at most 100 a request), printed as a few of them; `unnamed` once it named only part of them. */
class NamedIds {
  readonly ids = new Set<string>();
  unnamed = false;
  add(named: { count: number; ids: string[] }): void {
    if (named.count > named.ids.length) this.unnamed = true;
    for (const id of named.ids) this.ids.add(id);
  }
  /** "40 customers ...: cus_a, cus_b, ..." */
  describe(what: string): string {
    const some = [...this.ids].slice(0, 5).join(', ');
    return `${this.unnamed ? 'more than ' : ''}${this.ids.size} ${what}: ${some}${this.ids.size > 5 ? ', ...' : ''}`;
  }
}

/**
 * Sends product signals from NDJSON (a file, or stdin for "-") in requests of 1,000,
 * printing progress. A refused request stops the run and names the file's lines at
 * fault; the requests before it are stored, and sending the file again is safe (the
 * signals' ids make the ones already stored duplicates). A signal stored before with
 * something else under its id is a conflict the run names at its end; with `replace`
 * it is corrected.
 */
async function sendSignals(workspace: string, token: string, file: string, replace: boolean): Promise<void> {
  const lines = createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
  const total = { sent: 0, stored: 0, duplicates: 0, replaced: 0, pastRetention: 0 };
  const unmirrored = new NamedIds();
  const conflicts = new NamedIds();
  let batch: { line: number; signal: unknown }[] = [];
  let bytes = 0;
  const flush = async () => {
    if (!batch.length) return;
    const answer = await call('POST', `/workspaces/${workspace}/signals`, token, { signals: batch.map((b) => b.signal), ...(replace ? { replace } : {}) }).catch((err: unknown) => {
      // The API names a signal by its place in the request; the sender knows its line.
      const lineOf = (k: string) => `line ${batch[Number(k)]?.line ?? `?${k}`}`;
      throw err instanceof CliError ? new CliError(`${err.message.replace(/signals\.(\d+)(\.?)/g, (_m, k: string, dot: string) => `${lineOf(k)}${dot ? ' ' : ''}`)} (the ${total.sent} signals before line ${batch[0]!.line} are stored)`) : err;
    });
    const a = answer as { stored: number; duplicates: number; replaced?: number; pastRetention?: number; conflicts?: { count: number; ids: string[] }; unmirroredCustomers: { count: number; ids: string[] } };
    total.pastRetention += a.pastRetention ?? 0;
    total.sent += batch.length;
    total.stored += a.stored;
    total.duplicates += a.duplicates;
    total.replaced += a.replaced ?? 0;
    unmirrored.add(a.unmirroredCustomers);
    if (a.conflicts) conflicts.add(a.conflicts);
    const more = [replace ? `, ${total.replaced} replaced` : '', conflicts.ids.size ? `, ${conflicts.unnamed ? 'more than ' : ''}${conflicts.ids.size} conflicting` : ''].join('');
    process.stderr.write(`sent ${total.sent} signals: ${total.stored} stored, ${total.duplicates} duplicates${more}\n`);
    batch = [];
    bytes = 0;
  };
  let n = 0;
  for await (const text of lines) {
    n += 1;
    if (!text.trim()) continue;
    let signal: unknown;
    try {
      signal = JSON.parse(text);
    } catch {
      throw new CliError(`line ${n} is not JSON (the ${total.sent} signals before it are stored)`);
    }
    if (bytes + text.length > BYTES_PER_REQUEST) await flush();
    batch.push({ line: n, signal });
    bytes += text.length + 1;
    if (batch.length === SIGNALS_PER_REQUEST) await flush();
  }
  await flush();
  if (!total.sent) throw new CliError(`no signals in ${file === '-' ? 'the input' : file}`);
  if (unmirrored.ids.size) process.stderr.write(`${unmirrored.describe('customers are not in the mirror (stored anyway)')}\n`);
  if (total.pastRetention) process.stderr.write(`${total.pastRetention} signals written (stored, or corrected with --replace) are older than the server keeps them (PRODUCT_SIGNALS_RETENTION_DAYS): only each customer's latest of a kind outlives its next retention run\n`);
  if (conflicts.ids.size) process.stderr.write(`${conflicts.describe('signals were stored before with something else under their ids (the first ones stand; send the file again with --replace to correct them)')}\n`);
}

/** Deletes signals by id, one request each; an id the workspace does not hold stops the run, naming it. */
async function deleteSignals(workspace: string, token: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    await call('DELETE', `/workspaces/${workspace}/signals/${encodeURIComponent(id)}`, token);
    process.stderr.write(`deleted signal ${id}\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string' },
      'stripe-key': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'stripe-account': { type: 'string' },
      'history-months': { type: 'string' },
      'rate-limit': { type: 'string' },
      sync: { type: 'boolean' },
      'no-sync': { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      since: { type: 'string' },
      workspace: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      replace: { type: 'boolean', default: false },
    },
  });
  const [group, action] = positionals;
  const token = values.token ?? process.env.WYSERA_TOKEN;
  const workspace = values.workspace ?? process.env.WYSERA_WORKSPACE;

  if (group === 'workspace' && action === 'create') {
    const stripeKey = values['stripe-key'] ?? process.env.STRIPE_API_KEY;
    const webhookSecret = values['webhook-secret'] ?? process.env.STRIPE_WEBHOOK_SECRET;
    if (!values.name || !stripeKey || !webhookSecret) throw new CliError('workspace create needs --name, --stripe-key (or STRIPE_API_KEY) and --webhook-secret (or STRIPE_WEBHOOK_SECRET)');
    const settings: Json = {};
    if (values['history-months']) settings.historyMonths = Number(values['history-months']);
    if (values['rate-limit']) settings.stripeRateLimitRps = Number(values['rate-limit']);
    const created = await call('POST', '/workspaces', process.env.WYSERA_OPERATOR_TOKEN, {
      name: values.name,
      stripeKey,
      webhookSecret,
      ...(values['stripe-account'] ? { stripeAccount: values['stripe-account'] } : {}),
      ...(Object.keys(settings).length ? { settings } : {}),
      sync: !values['no-sync'],
    });
    const ws = created.workspace as { id: string; name: string; livemode: boolean };
    if (values.json) process.stdout.write(`${JSON.stringify({ workspaceId: ws.id, ownerToken: created.ownerToken, sync: created.sync })}\n`);
    else {
      process.stderr.write(`created workspace ${ws.id} (${ws.name}, ${ws.livemode ? 'live' : 'test'} mode)\n`);
      process.stderr.write(`owner token (shown once, keep it): ${String(created.ownerToken)}\n`);
      const unverified = (created.validation as { unverified: string[] }).unverified;
      if (unverified.length) process.stderr.write(`could not verify without writing: ${unverified.join(', ')}\n`);
      for (const m of (created.validation as { missingRecommended: { permission: string; without: string }[] }).missingRecommended) process.stderr.write(`the key lacks ${m.permission} (recommended): ${m.without}\n`);
      if (created.syncError) process.stderr.write(`the first sync did not start: ${JSON.stringify(created.syncError)}; run: npm run wysera -- sync\n`);
    }
    if (values.watch && created.sync) await watch(ws.id, created.ownerToken as string);
    return;
  }

  if (group === 'workspace' && (action === 'set-key' || action === 'set-webhook-secret')) {
    if (!workspace) throw new CliError(`workspace ${action} needs --workspace (or WYSERA_WORKSPACE)`);
    if (!token) throw new CliError(`workspace ${action} needs an owner token: --token or WYSERA_TOKEN`);
    if (action === 'set-webhook-secret') {
      const webhookSecret = values['webhook-secret'] ?? process.env.STRIPE_WEBHOOK_SECRET;
      if (!webhookSecret) throw new CliError('workspace set-webhook-secret needs --webhook-secret (or STRIPE_WEBHOOK_SECRET)');
      await call('PUT', `/workspaces/${workspace}/webhook-secret`, token, { webhookSecret });
      process.stderr.write(`replaced the webhook signing secret of ${workspace}\n`);
      return;
    }
    const stripeKey = values['stripe-key'] ?? process.env.STRIPE_API_KEY;
    if (!stripeKey) throw new CliError('workspace set-key needs --stripe-key (or STRIPE_API_KEY)');
    const sync = values['no-sync'] ? false : values.sync;
    const done = await call('PUT', `/workspaces/${workspace}/stripe-key`, token, {
      stripeKey,
      ...(values['stripe-account'] ? { stripeAccount: values['stripe-account'] } : {}),
      ...(sync === undefined ? {} : { sync }),
    });
    process.stderr.write(`stored the new Stripe key of ${workspace}\n`);
    if (done.syncError) process.stderr.write(`the sync did not start: ${JSON.stringify(done.syncError)}; run: npm run wysera -- sync\n`);
    else if (done.sync) process.stderr.write(`started sync ${String((done.sync as Json).runId)}\n`);
    if (values.watch && done.sync) await watch(workspace, token);
    return;
  }

  if (group === 'sync') {
    if (!workspace) throw new CliError('sync needs --workspace (or WYSERA_WORKSPACE)');
    if (!token) throw new CliError('sync needs an owner (or, for status, viewer) token: --token or WYSERA_TOKEN');
    if (action === 'status') {
      if (values.watch) await watch(workspace, token);
      else process.stdout.write(`${JSON.stringify(await call('GET', `/workspaces/${workspace}/sync`, token), null, 2)}\n`);
      return;
    }
    if (action !== undefined) throw new CliError(`unknown sync action "${action}" (use: sync, sync status)`);
    const run = await call('POST', `/workspaces/${workspace}/sync`, token, values.since ? { mode: 'since', since: new Date(values.since).toISOString() } : { mode: 'full' });
    process.stderr.write(`started sync ${String(run.runId)}\n`);
    if (values.watch) await watch(workspace, token);
    return;
  }

  if (group === 'signals') {
    if (action !== 'send' && action !== 'delete') throw new CliError(`unknown signals action "${action ?? ''}" (use: signals send [file] [--replace], signals delete <id> ...)`);
    if (!workspace) throw new CliError(`signals ${action} needs --workspace (or WYSERA_WORKSPACE)`);
    if (!token) throw new CliError(`signals ${action} needs a member's (or higher) token: --token or WYSERA_TOKEN`);
    if (action === 'send') await sendSignals(workspace, token, positionals[2] ?? '-', values.replace);
    else if (positionals.length > 2) await deleteSignals(workspace, token, positionals.slice(2));
    else throw new CliError('signals delete needs the ids of the signals to delete');
    return;
  }

  throw new CliError('usage: npm run wysera -- workspace create --name <name> ... | workspace set-key | workspace set-webhook-secret | sync [--since <date>] [--watch] | sync status [--watch] | signals send [file] [--replace] | signals delete <id> ...');
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`wysera: ${err instanceof CliError || err instanceof TypeError ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
