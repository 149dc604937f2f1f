// The workflows a longhaul worker registers (this file is the bundle's entry point).
export { job } from './job';
export { pipeline } from './pipeline';
export { fanOut } from './fan-out';
export { runStep } from './run-step';
export { resourceLock } from './resource-lock';
