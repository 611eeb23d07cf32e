import { z } from 'zod';

/**
 * Workspace settings that change how MRR is recognised. Stored under
 * `settings.analytics` of the workspace row; every field has a default so an empty
 * object is valid. Changing them needs a full recompute of the workspace.
 */
export const analyticsSettingsSchema = z.strictObject({
  /** Lower-case ISO 4217 code every figure is reported in. */
  reportingCurrency: z
    .string()
    .regex(/^[a-zA-Z]{3}$/, 'a three-letter ISO 4217 currency code')
    .transform((c) => c.toLowerCase())
    .default('usd'),
  /**
   * When a cancelled subscription stops counting: `subscription_end` (when it ends in
   * Stripe, ChartMogul's default), `service_period_end` (when the last paid service
   * period ends, even if Stripe ended it earlier) or `cancellation` (the moment the
   * customer cancelled, even if it runs to the period end).
   */
  churnTiming: z.enum(['subscription_end', 'service_period_end', 'cancellation']).default('subscription_end'),
  /**
   * How long an unpaid (open) invoice keeps counting: null = until it is voided or
   * marked uncollectible; N = for N days after its service period starts.
   */
  pastDueGraceDays: z.number().int().min(0).max(365).nullable().default(null),
  /** Usage-based (metered) prices are not recurring revenue by default. */
  includeMetered: z.boolean().default(false),
  /** Changes of one customer closer together than this are one movement. */
  groupingWindowMinutes: z.number().int().min(0).max(24 * 60).default(60),
});

export type AnalyticsSettings = z.output<typeof analyticsSettingsSchema>;

export const defaultAnalyticsSettings: AnalyticsSettings = analyticsSettingsSchema.parse({});
