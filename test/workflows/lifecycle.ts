// Workflows for test/server/lifecycle.test.ts, test/server/ids.test.ts and test/server/crash.test.ts.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  isCancellation,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';

export interface LifecycleActivities {
  recordCancellation(workflowId: string, errorName: string): Promise<void>;
}

const lifecycleActs = proxyActivities<LifecycleActivities>({ startToCloseTimeout: '10s' });

/** Sleeps for a day; on cancellation reports what it saw through an activity, then rethrows. */
export async function waitForCancel(): Promise<void> {
  try {
    await sleep('1 day');
  } catch (err) {
    if (isCancellation(err)) {
      const name = err instanceof CancelledFailure ? 'CancelledFailure' : (err as Error).name;
      await CancellationScope.nonCancellable(() => lifecycleActs.recordCancellation(workflowInfo().workflowId, name));
    }
    throw err;
  }
}

/** Continues as new until `iteration` reaches `total`, then returns a summary including the run chain. */
export async function continuer(iteration: number, total: number, previousRunIds: string[]): Promise<string> {
  const runIds = [...previousRunIds, workflowInfo().runId];
  if (iteration < total) {
    await continueAsNew<typeof continuer>(iteration + 1, total, runIds);
  }
  return `done at ${iteration} after ${runIds.length} runs`;
}

/** Fails with an ApplicationFailure of a custom type with details. */
export async function failing(message: string): Promise<void> {
  throw ApplicationFailure.create({ message, type: 'MyWorkflowError', details: ['detail-1', 42] });
}

/** Runs a slow activity once (startToClose 5s, retried) and returns its result. */
export async function slowActivityWorkflow(key: string): Promise<string> {
  const acts = proxyActivities<{ slowStep(key: string): Promise<string> }>({
    startToCloseTimeout: '5s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1 },
  });
  return await acts.slowStep(key);
}

/** Runs the heartbeating slowStep activity (heartbeat timeout 1 s) once and returns its result. */
export async function heartbeatingWorkflow(key: string): Promise<string> {
  const acts = proxyActivities<{ slowStep(key: string): Promise<string> }>({
    startToCloseTimeout: '30s',
    heartbeatTimeout: '1s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1 },
  });
  return await acts.slowStep(key);
}
