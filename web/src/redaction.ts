import { get } from './api';

/**
 * What the caller may see, so a null from the API reads "Hidden" when it was hidden
 * and "—" when there is simply no figure (ARPA with no customers). The API does the
 * hiding; this only labels it. Role order and the finance threshold are those of
 * domain/roles.ts (the bundle carries no server code).
 */
const ROLE_ORDER = ['viewer', 'member', 'finance', 'owner'];
const atLeast = (role: string, minimum: string) => ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(minimum);

export interface Visibility {
  role: string;
  revenue: boolean;
  fields: ReadonlySet<string>;
}

export const canAct = (role: string) => atLeast(role, 'member');
export const canAudit = (role: string) => atLeast(role, 'finance');
/** Marking an invoice paid out of band: finance's call, like the figures it changes. */
export const canMarkPaid = (role: string) => atLeast(role, 'finance');
export const canConfigure = (role: string) => atLeast(role, 'owner');

export async function loadVisibility(workspaceId: string, role: string): Promise<Visibility> {
  const { redaction } = await get<{ redaction: { fields: string[]; visibleTo: string } }>(`/workspaces/${encodeURIComponent(workspaceId)}/redaction`);
  return { role, revenue: atLeast(role, 'finance'), fields: atLeast(role, redaction.visibleTo) ? new Set() : new Set(redaction.fields) };
}

/** Whether `field` is hidden from the caller (money fields: below finance, or by the workspace). */
export function isHidden(v: Visibility, field: string, money: boolean): boolean {
  return v.fields.has(field) || (money && !v.revenue);
}
