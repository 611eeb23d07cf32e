import { describe, expect, it } from 'vitest';
import { eventOrigin, foreignEventReason, type MirroredAccount } from '../../domain/event-ownership';

const own: MirroredAccount = { stripeAccountId: null, livemode: true, hasStripeKey: true };
const connected: MirroredAccount = { stripeAccountId: 'acct_A', livemode: true, hasStripeKey: true };
const webhookOnly: MirroredAccount = { stripeAccountId: null, livemode: false, hasStripeKey: false };

describe('eventOrigin', () => {
  it("reads the envelope's mode and connected account", () => {
    expect(eventOrigin({ id: 'evt_1', livemode: true, account: 'acct_A' })).toEqual({ livemode: true, account: 'acct_A' });
    expect(eventOrigin({ id: 'evt_1', livemode: false })).toEqual({ livemode: false, account: null });
    expect(eventOrigin({ id: 'evt_1', livemode: false, account: null })).toEqual({ livemode: false, account: null });
  });

  it('gives null for a payload that is not an envelope', () => {
    expect(eventOrigin({ object: { id: 'sub_1' } })).toBeNull();
    expect(eventOrigin('text')).toBeNull();
  });
});

describe('foreignEventReason', () => {
  it("takes an account's own events in its mode", () => {
    expect(foreignEventReason({ livemode: true, account: null }, own)).toBeNull();
    expect(foreignEventReason({ livemode: true, account: 'acct_A' }, connected)).toBeNull();
  });

  it("sets aside another connected account's events for a Connect workspace", () => {
    expect(foreignEventReason({ livemode: true, account: 'acct_B' }, connected)).toMatch(/connected account acct_B, and this workspace mirrors acct_A/);
  });

  it("takes events without an account for a Connect workspace: the connected account's own endpoint sends them so", () => {
    expect(foreignEventReason({ livemode: true, account: null }, connected)).toBeNull();
  });

  it("sets aside a Connect endpoint's events for a workspace mirroring its key's own account", () => {
    expect(foreignEventReason({ livemode: true, account: 'acct_B' }, own)).toMatch(/connected account acct_B.*its key's own account/);
  });

  it("sets aside the other mode's events", () => {
    expect(foreignEventReason({ livemode: false, account: null }, own)).toBe('not applied: the event is a test-mode event, and this workspace mirrors live-mode data');
    expect(foreignEventReason({ livemode: true, account: null }, { ...own, livemode: false })).toMatch(/live-mode event.*test-mode data/);
    expect(foreignEventReason({ livemode: false, account: 'acct_A' }, connected)).toMatch(/test-mode event/);
  });

  it('checks nothing for a webhook-only workspace, which has not said its account or mode', () => {
    expect(foreignEventReason({ livemode: true, account: null }, webhookOnly)).toBeNull();
    expect(foreignEventReason({ livemode: true, account: 'acct_B' }, webhookOnly)).toBeNull();
    expect(foreignEventReason({ livemode: true, account: 'acct_B' }, { ...webhookOnly, stripeAccountId: 'acct_A' })).toBeNull();
  });
});
