// Workflows for test/server/activities.test.ts: drive activities with caller-chosen options.
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  type ActivityOptions,
} from '@temporalio/workflow';

type AnyActivities = Record<string, (...args: any[]) => Promise<any>>;

/** Runs one activity by name with the given options and returns its result (failures fail the workflow). */
export async function runActivity(name: string, args: unknown[], options: ActivityOptions): Promise<unknown> {
  const acts = proxyActivities<AnyActivities>(options);
  return await acts[name](...args);
}

export const cancelActivitySignal = defineSignal('cancelActivity');

/**
 * Starts `heartbeatUntilCancelled(key, runMs, cleanupMs)`, waits for the `cancelActivity` signal, cancels the
 * activity's scope, then (after `lingerMs`) returns 'cancelled' or 'completed'.
 */
export async function cancelActivityWorkflow(
  key: string,
  cancellationType: ActivityCancellationType,
  runMs: number,
  cleanupMs: number,
  lingerMs: number,
): Promise<string> {
  const acts = proxyActivities<AnyActivities>({
    startToCloseTimeout: '30s',
    heartbeatTimeout: '2s',
    cancellationType,
    retry: { maximumAttempts: 1 },
  });
  let cancelRequested = false;
  setHandler(cancelActivitySignal, () => void (cancelRequested = true));
  let outcome: string;
  try {
    await CancellationScope.cancellable(async () => {
      const p = acts.heartbeatUntilCancelled(key, runMs, cleanupMs);
      await Promise.race([p, condition(() => cancelRequested)]);
      CancellationScope.current().cancel();
      await p;
    });
    outcome = 'completed';
  } catch (err) {
    if (!isCancellation(err)) throw err;
    outcome = 'cancelled';
  }
  if (lingerMs > 0) await sleep(lingerMs);
  return outcome;
}
