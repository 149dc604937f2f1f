// Workflows for the engine benchmark (bench/engine.ts). Deterministic code only: bundled once per run.
import { proxyActivities } from '@temporalio/workflow';

/** Activities the benchmark worker registers. */
export interface BenchActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<BenchActivities>({ startToCloseTimeout: '10s' });

/** One activity round trip: the smallest workflow that exercises workflow and activity task dispatch. */
export async function oneActivity(): Promise<void> {
  await noop();
}
