// Workflows for test/server/time-skipping.test.ts: long stretches of workflow time between activities.
import { proxyActivities, sleep } from '@temporalio/workflow';

const { echo } = proxyActivities<{ echo(s: string): Promise<string> }>({ startToCloseTimeout: '1 minute' });

/**
 * Sleeps 90 days in `legs` steps, calling the `echo` activity around each leg. Returns the activity
 * results and the workflow time that passed (workflow Date.now() is server time).
 */
export async function longSleep(legs: number): Promise<{ echoed: string[]; elapsedMs: number }> {
  const start = Date.now();
  const echoed: string[] = [await echo('start')];
  const legMs = (90 * 24 * 60 * 60 * 1000) / legs;
  for (let i = 0; i < legs; i++) {
    await sleep(legMs);
    echoed.push(await echo(`leg ${i + 1}`));
  }
  return { echoed, elapsedMs: Date.now() - start };
}

const { slowEcho } = proxyActivities<{ slowEcho(s: string): Promise<string> }>({ startToCloseTimeout: '1 minute' });

/** Races `slowEcho` (which takes real time) against a timer: time skipping must not fire the timer first. */
export async function activityVersusTimer(timerMs: number): Promise<string> {
  return await Promise.race([sleep(timerMs).then(() => 'timer'), slowEcho('activity')]);
}
