import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createApiToken } from '../../db/api-tokens';
import { inboxCounts } from '../../db/inbox';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { customerWorkflowId } from '../../workflows/ids';
import { startIngressStack, type IngressStack } from '../helpers/stack';
import { stripeEvent, stripeFixture } from '../helpers/stripe';
import { eventually } from '../helpers/temporal';

type Json = Record<string, unknown>;

/**
 * A signature proves only which endpoint an event came through. A Connect endpoint
 * sends every connected account's events, and a test endpoint's secret can end up in a
 * live workspace: the relay applies only the events of the account and mode the
 * workspace mirrors, and keeps the others, ignored, with the reason.
 */
describe('relay and events of another account or mode', () => {
  const keyring = parseKeyring(generateKeySpec());
  const connect = { id: 'ws_connected', secret: 'whsec_connected' };
  const own = { id: 'ws_own_account', secret: 'whsec_own' };
  let stack: IngressStack;

  beforeAll(async () => {
    stack = await startIngressStack(keyring, async (db) => {
      await insertWorkspace(db, keyring, { id: connect.id, name: 'Connected', webhookSecret: connect.secret, stripeKey: 'sk_live_platform', stripeAccountId: 'acct_A', livemode: true });
      await insertWorkspace(db, keyring, { id: own.id, name: 'Own', webhookSecret: own.secret, stripeKey: 'sk_test_own', livemode: false });
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const subscription = (customer: string): Json => ({ ...stripeFixture('subscription'), id: `sub_${customer}`, customer, items: { object: 'list', data: [], has_more: false } });
  const failedInvoice = (customer: string): Json => ({ ...stripeFixture('invoice'), id: `in_${customer}`, customer, status: 'open' });

  async function post(ws: { id: string; secret: string }, event: Json): Promise<string> {
    expect((await stack.postEvent(ws.id, ws.secret, event)).status).toBe(200);
    return event.id as string;
  }

  const inbox = (ws: string) =>
    stack.database.db('webhook_inbox').where({ workspace_id: ws }).orderBy('seq').select<{ event_id: string; status: string; last_error: string | null }[]>('event_id', 'status', 'last_error');
  const mirrored = async (ws: string) => (await stack.database.db('stripe_subscriptions').where({ workspace_id: ws }).orderBy('id').select<{ id: string }[]>('id')).map((r) => r.id);

  it("applies the workspace's own events and sets aside the others with the reason", async () => {
    const ours = await post(connect, stripeEvent('customer.subscription.created', subscription('cus_a'), { livemode: true, account: 'acct_A' }));
    const otherAccount = await post(connect, stripeEvent('customer.subscription.created', subscription('cus_b'), { livemode: true, account: 'acct_B' }));
    const otherAccountsFailure = await post(connect, stripeEvent('invoice.payment_failed', failedInvoice('cus_b'), { livemode: true, account: 'acct_B' }));
    const testMode = await post(connect, stripeEvent('customer.subscription.created', subscription('cus_c'), { livemode: false, account: 'acct_A' }));
    const ownAccounts = await post(own, stripeEvent('customer.subscription.created', subscription('cus_own')));
    const viaConnect = await post(own, stripeEvent('customer.subscription.created', subscription('cus_z'), { account: 'acct_Z' }));

    await eventually(
      async () => [await inboxCounts(stack.database.db, connect.id), await inboxCounts(stack.database.db, own.id)],
      (counts) => counts.every((c) => c.pending === 0),
    );

    expect(await mirrored(connect.id)).toEqual(['sub_cus_a']);
    expect(await mirrored(own.id)).toEqual(['sub_cus_own']);
    const rows = new Map([...(await inbox(connect.id)), ...(await inbox(own.id))].map((r) => [r.event_id, r]));
    expect(rows.get(ours)).toMatchObject({ status: 'processed', last_error: null });
    expect(rows.get(ownAccounts)).toMatchObject({ status: 'processed', last_error: null });
    expect(rows.get(otherAccount)).toMatchObject({ status: 'ignored', last_error: 'not applied: the event is about the connected account acct_B, and this workspace mirrors acct_A' });
    expect(rows.get(otherAccountsFailure)?.status).toBe('ignored');
    expect(rows.get(testMode)).toMatchObject({ status: 'ignored', last_error: 'not applied: the event is a test-mode event, and this workspace mirrors live-mode data' });
    expect(rows.get(viaConnect)?.status).toBe('ignored');
    expect(rows.get(viaConnect)?.last_error).toMatch(/connected account acct_Z.*its key's own account/);
    // The other account's failed payment started no plays.
    const described = stack.temporal.client.workflow.getHandle(customerWorkflowId(connect.id, 'cus_b')).describe();
    await expect(described).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('applies the set-aside events that became the workspace\'s own once it mirrors their account, and only those', async () => {
    const owner = (await createApiToken(stack.database.db, { workspaceId: connect.id, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    const reapply = () => stack.api.request('POST', `/workspaces/${connect.id}/webhook-events/set-aside/reapply`, { token: owner });
    const summary = async () => (await stack.api.request('GET', `/workspaces/${connect.id}/webhook-events/summary`, { token: owner })).body as { setAsideKept: number };
    // Still mirroring acct_A: nothing set aside is its own, nothing changes.
    expect(await summary()).toMatchObject({ setAsideKept: 3 });
    expect((await reapply()).body).toEqual({ requeued: 0, stillSetAside: 3 });
    expect(await mirrored(connect.id)).toEqual(['sub_cus_a']);

    // A workspace without a key has no account or mode to check against: refused, nothing queued.
    const sealedKey = (await stack.database.db('workspaces').where({ id: connect.id }).first<{ stripe_key_ciphertext: string }>('stripe_key_ciphertext')).stripe_key_ciphertext;
    await stack.database.db('workspaces').where({ id: connect.id }).update({ stripe_key_ciphertext: null });
    const keyless = await reapply();
    expect(keyless.status).toBe(409);
    expect((keyless.body as { error: { message: string } }).error.message).toMatch(/has no Stripe key, so the account and mode its events must come from are not known/);
    expect(await summary()).toMatchObject({ setAsideKept: 3 });
    await stack.database.db('workspaces').where({ id: connect.id }).update({ stripe_key_ciphertext: sealedKey });

    // The workspace now acts for acct_B (its key moved there): acct_B's two live events are its own, the test-mode one is not.
    await stack.database.db('workspaces').where({ id: connect.id }).update({ stripe_account_id: 'acct_B' });
    const answer = await reapply();
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ requeued: 2, stillSetAside: 1 });
    await eventually(() => inboxCounts(stack.database.db, connect.id), (c) => c.pending === 0);
    expect(await mirrored(connect.id)).toEqual(['sub_cus_a', 'sub_cus_b']);
    const statuses = (await inbox(connect.id)).map((r) => [r.status, r.last_error]);
    expect(statuses).toEqual([
      ['processed', null],
      ['processed', null],
      ['processed', null],
      ['ignored', 'not applied: the event is a test-mode event, and this workspace mirrors live-mode data'],
    ]);
    // acct_B's failed payment reached the plays this time.
    await eventually(
      async () => (await stack.temporal.client.workflow.getHandle(customerWorkflowId(connect.id, 'cus_b')).describe()).status.name,
      (status) => status === 'RUNNING',
    );
    expect(await summary()).toMatchObject({ setAsideKept: 1 });
    const audit = await stack.database.db('audit_log').where({ workspace_id: connect.id, action: 'webhook_events.set_aside_reapplied' }).select('after');
    expect(audit).toEqual([{ after: { requeued: 2, stillSetAside: 1, mirrors: { stripeAccountId: 'acct_B', livemode: true, hasStripeKey: true } } }]);
    // Asked again, nothing more is its own.
    expect((await reapply()).body).toEqual({ requeued: 0, stillSetAside: 1 });
  });
});
