import { defineQuery, defineSignal } from '@temporalio/workflow';

/** The Stripe resources a sync copies, in the order progress lists them. */
export const SYNC_RESOURCES = ['products', 'prices', 'customers', 'subscriptions', 'invoices', 'charges', 'refunds', 'payment_intents'] as const;
export type SyncResource = (typeof SYNC_RESOURCES)[number];

export interface SyncInput {
  workspaceId: string;
  runId: string;
  /**
   * ISO time; objects created before it are not fetched (null: everything). A full
   * sync applies it to invoices, charges, refunds and payment intents and copies the
   * catalogue, customers and subscriptions whole (current state needs all of them);
   * a sync "since" a date applies it to every resource.
   */
  windowStart: string | null;
  mode: 'full' | 'since';
}

export interface ResourceProgressUpdate {
  resource: SyncResource;
  objects: number;
  pages: number;
  done: boolean;
  fraction: number | null;
  etaSeconds: number | null;
  /** ISO time the activity measured this at. */
  at: string;
}

export interface SyncProgressView {
  runId: string;
  workspaceId: string;
  status: 'running' | 'completed' | 'failed';
  error: string | null;
  resources: ResourceProgressUpdate[];
}

/** Sent by the sync activities as pages land (throttled), so the query can answer without I/O. */
export const syncProgressSignal = defineSignal<[ResourceProgressUpdate]>('syncProgress');
export const syncProgressQuery = defineQuery<SyncProgressView>('syncProgress');
