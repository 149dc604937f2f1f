// Workflows for test/server/timers.test.ts.
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';

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

export const goSignal = defineSignal('go');

/** Waits up to 400 ms for `done`; on the "go" signal runs a 1 s local activity (keeping that workflow task open
 * while the timer fires) and then sets `done`, so the task that cancels the timer is the one its firing raced. */
export async function timerRacesSlowTask(): Promise<string> {
  let go = false;
  let done = false;
  setHandler(goSignal, () => void (go = true));
  const outcome = condition(() => done, 400).then((met) => (met ? 'cancelled' : 'fired'));
  await condition(() => go);
  await proxyLocalActivities<{ slowLocal(ms: number): Promise<void> }>({ startToCloseTimeout: '10s' }).slowLocal(1000);
  done = true;
  return outcome;
}

/** Starts a 300 ms activity; on "go" runs a 1 s local activity (the activity finishes meanwhile, its result
 * buffered) and then cancels it, waiting for the cancellation to settle: the activity's result wins. */
export async function activityRacesSlowTask(): Promise<string> {
  let go = false;
  setHandler(goSignal, () => void (go = true));
  const scope = new CancellationScope();
  const result = scope.run(() =>
    proxyActivities<{ slowEcho(s: string): Promise<string> }>({
      startToCloseTimeout: '10s',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }).slowEcho('done'),
  );
  await condition(() => go);
  await proxyLocalActivities<{ slowLocal(ms: number): Promise<void> }>({ startToCloseTimeout: '10s' }).slowLocal(1000);
  scope.cancel();
  try {
    return await result;
  } catch (err) {
    return isCancellation(err) ? 'cancelled' : 'failed';
  }
}
