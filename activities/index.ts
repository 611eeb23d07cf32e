import { createAnalyticsActivities } from './analytics';
import { createChurnSaveActivities, type ChurnSaveActivityDeps } from './churn-save';
import { createDraftActivities } from './drafts';
import { createExpansionActivities } from './expansion';
import { createRenewalActivities } from './renewal';
import { createDunningActivities, type DunningActivityDeps } from './dunning';
import { createSendingActivities, type SendingActivityDeps } from './sending';

export type ActivityDeps = DunningActivityDeps & SendingActivityDeps & ChurnSaveActivityDeps;

/** Every activity the worker runs, built from its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createAnalyticsActivities(deps),
    ...createChurnSaveActivities(deps),
    ...createDraftActivities(deps),
    ...createDunningActivities(deps),
    ...createExpansionActivities(deps),
    ...createRenewalActivities(deps),
    ...createSendingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
