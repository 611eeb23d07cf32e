import { z } from 'zod';

/**
 * Per-workspace settings kept in workspaces.settings (jsonb). Unknown keys written
 * by other features are kept as they are; the ones read here are validated.
 */
export const workspaceSettingsSchema = z.object({
  /** How far back the first sync reaches; longer for larger plans. */
  historyMonths: z.number().int().min(1).max(120).default(24),
  /** Stripe requests per second for this workspace; unset: 20 in test mode, 80 live. */
  stripeRateLimitRps: z.number().positive().max(1000).optional(),
});

export type WorkspaceSettings = z.infer<typeof workspaceSettingsSchema>;

/** Reads stored settings; a stored value that no longer validates falls back to its default. */
export function parseWorkspaceSettings(raw: unknown): WorkspaceSettings {
  const obj = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const parsed = workspaceSettingsSchema.safeParse(obj);
  if (parsed.success) return parsed.data;
  const bad = new Set(parsed.error.issues.map((i) => String(i.path[0])));
  return workspaceSettingsSchema.parse(Object.fromEntries(Object.entries(obj).filter(([k]) => !bad.has(k))));
}

/** The start of the history window: `months` calendar months before `now` (UTC). */
export function historyWindowStart(now: Date, months: number): Date {
  const d = new Date(now.getTime());
  d.setUTCMonth(d.getUTCMonth() - months);
  return d;
}
