import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, so operators can find any customer's plays in the
 * Temporal UI (e.g. `WyseraWorkspaceId = "ws_1" AND WyseraPlay = "dunning"`).
 * The worker registers them in the namespace at start-up.
 */
export const WORKSPACE_ID = defineSearchAttributeKey('WyseraWorkspaceId', SearchAttributeType.KEYWORD);
export const CUSTOMER_ID = defineSearchAttributeKey('WyseraCustomerId', SearchAttributeType.KEYWORD);
export const PLAY = defineSearchAttributeKey('WyseraPlay', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [WORKSPACE_ID, CUSTOMER_ID, PLAY] as const;
