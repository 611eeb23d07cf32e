// The workflow bundle's entry point: every workflow type the worker runs.
export { customerWorkflow } from './customer';
export { syncWorkflow } from './sync';
