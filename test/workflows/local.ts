// Local activities, including one that outlives the workflow task timeout (the worker heartbeats the task).
import { defineQuery, patched, proxyLocalActivities, setHandler } from '@temporalio/workflow';

export const phaseQuery = defineQuery<string>('phase');

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
  let phase = 'running local activity';
  setHandler(phaseQuery, () => phase);
  const r = await slow.slowDouble(n, ms);
  phase = 'done';
  return r;
}
