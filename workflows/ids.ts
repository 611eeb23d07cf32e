/**
 * Business workflow ids. Every workflow is addressed by what it is about, so a
 * signal for the same customer always reaches the same workflow, and ids never
 * collide across workspaces. Build ids only here.
 */
export type PlayName = 'customer' | 'dunning' | 'churn' | 'renewal' | 'expansion' | 'sync';

const SEPARATOR = ':';

function part(name: string, value: string): string {
  if (!value || value.includes(SEPARATOR)) throw new Error(`invalid ${name} for a workflow id: ${JSON.stringify(value)}`);
  return value;
}

/** The per-customer workflow that receives every Stripe event about the customer. */
export function customerWorkflowId(workspaceId: string, customerId: string): string {
  return ['customer', part('workspaceId', workspaceId), part('customerId', customerId)].join(SEPARATOR);
}

/** The dunning sequence of one failed invoice. */
export function dunningWorkflowId(workspaceId: string, invoiceId: string): string {
  return ['dunning', part('workspaceId', workspaceId), part('invoiceId', invoiceId)].join(SEPARATOR);
}

/** One save outreach of the churn radar (a customer may have several over time, one at a time: db/churn-saves.ts). */
export function churnSaveWorkflowId(workspaceId: string, saveId: string): string {
  return ['churn', part('workspaceId', workspaceId), part('saveId', saveId)].join(SEPARATOR);
}

/** One upgrade pitch of the expansion play (one at a time per customer: db/expansion-pitches.ts). */
export function expansionPitchWorkflowId(workspaceId: string, pitchId: string): string {
  return ['expansion', part('workspaceId', workspaceId), part('pitchId', pitchId)].join(SEPARATOR);
}

/** The renewal play's note about one renewal of one subscription (db/renewal-notes.ts). */
export function renewalNoteWorkflowId(workspaceId: string, noteId: string): string {
  return ['renewal', part('workspaceId', workspaceId), part('noteId', noteId)].join(SEPARATOR);
}

/** One sync run of a workspace's Stripe history. */
export function syncWorkflowId(workspaceId: string, runId: string): string {
  return ['sync', part('workspaceId', workspaceId), part('runId', runId)].join(SEPARATOR);
}

/** Parses an id made by one of the helpers above. */
export function parseWorkflowId(id: string): { play: PlayName; workspaceId: string; subject: string } {
  const [play, workspaceId, subject, ...rest] = id.split(SEPARATOR);
  const plays: readonly string[] = ['customer', 'dunning', 'churn', 'renewal', 'expansion', 'sync'];
  if (!play || !plays.includes(play) || !workspaceId || !subject || rest.length) {
    throw new Error(`not a Wysera workflow id: ${id}`);
  }
  return { play: play as PlayName, workspaceId, subject };
}
