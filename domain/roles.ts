/**
 * Roles within a workspace, from least to most privileged. Each role can do what
 * the ones before it can:
 * - viewer: reads the dashboard and drafts, with revenue figures redacted;
 * - member: also acts on drafts (approve, edit, discard);
 * - finance: also sees revenue figures and marks invoices paid out of band;
 * - owner: also changes settings, users, tokens and the Stripe connection.
 */
export const ROLES = ['viewer', 'member', 'finance', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

/** Revenue fields (MRR, amounts, plan value, LTV...) are hidden from the roles below finance. */
export function canSeeRevenue(role: Role): boolean {
  return roleAtLeast(role, 'finance');
}

/**
 * Whether a workspace keeps an owner when one member's role goes from `before` to
 * `after` (null: the member is removed), given how many owners it has now.
 */
export function keepsAnOwner(owners: number, before: Role, after: Role | null): boolean {
  return before !== 'owner' || after === 'owner' || owners > 1;
}
