// Workflows for async activity completion and memo upserts.
import { proxyActivities, upsertMemo, workflowInfo } from '@temporalio/workflow';

const acts = proxyActivities<{ asyncStep(key: string): Promise<string> }>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10s',
});

export async function awaitsAsyncActivity(key: string): Promise<string> {
  return await acts.asyncStep(key);
}

export async function memoWorkflow(): Promise<Record<string, unknown>> {
  upsertMemo({ stage: 'second', added: 42 });
  return workflowInfo().memo ?? {};
}
