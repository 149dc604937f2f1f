// Workflows started by schedules (test/server/schedules*.test.ts).
import { sleep, workflowInfo } from '@temporalio/workflow';

/** Returns at once: its workflow id (which carries the schedule's nominal time). */
export async function scheduledHello(name: string): Promise<string> {
  return `hello ${name} from ${workflowInfo().workflowId}`;
}

/** Runs for `ms` (long enough for the next action times to overlap it). */
export async function scheduledSleep(ms: number): Promise<string> {
  await sleep(ms);
  return 'slept';
}
