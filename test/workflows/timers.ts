// Workflows for test/server/timers.test.ts.
import { CancellationScope, condition, defineSignal, isCancellation, setHandler, sleep } from '@temporalio/workflow';

/** Sleeps `ms` and returns the elapsed workflow time (derived from server-provided task timestamps). */
export async function measuredSleep(ms: number): Promise<number> {
  const start = Date.now();
  await sleep(ms);
  return Date.now() - start;
}

/** Starts a long timer, cancels it after a short one fires, and reports whether it was cancelled. */
export async function cancelledTimer(): Promise<string> {
  const scope = new CancellationScope();
  const long = scope.run(() => sleep('1 hour'));
  await sleep(50);
  scope.cancel();
  try {
    await long;
    return 'fired';
  } catch (err) {
    if (isCancellation(err)) return 'cancelled';
    throw err;
  }
}

export const unblockSignal = defineSignal('unblock');

/** Waits for the `unblock` signal or `timeoutMs`; returns whether the condition became true in time. */
export async function conditionWithTimeout(timeoutMs: number): Promise<boolean> {
  let unblocked = false;
  setHandler(unblockSignal, () => void (unblocked = true));
  return await condition(() => unblocked, timeoutMs);
}
