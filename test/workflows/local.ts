// Local activities, including one that outlives the workflow task timeout (the worker heartbeats the task).
import { patched, proxyLocalActivities } from '@temporalio/workflow';

const quick = proxyLocalActivities<{ double(n: number): Promise<number> }>({ startToCloseTimeout: '5s' });
const slow = proxyLocalActivities<{ slowDouble(n: number, ms: number): Promise<number> }>({
  startToCloseTimeout: '30s',
});

export async function localActivities(n: number): Promise<number> {
  const a = await quick.double(n);
  const b = await quick.double(a);
  return patched('v2') ? b + 1 : b;
}

export async function longLocalActivity(n: number, ms: number): Promise<number> {
  return await slow.slowDouble(n, ms);
}
