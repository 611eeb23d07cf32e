// The workflow bundle's entry point: every workflow type the worker runs.
export { customerWorkflow } from './customer';
export { dunningWorkflow } from './dunning';
export { syncWorkflow } from './sync';
export { churnSaveWorkflow } from './churn-save';
export { expansionPitchWorkflow } from './expansion-pitch';
export { renewalNoteWorkflow } from './renewal-note';
