// Workflows for workflow-level retries, cron runs and start delays.
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';

/** Fails until attempt `succeedOn`, then reports the attempt it succeeded on. */
export async function flakyWorkflow(succeedOn: number): Promise<string> {
  const { attempt } = workflowInfo();
  if (attempt < succeedOn) throw ApplicationFailure.create({ message: `attempt ${attempt} failed`, type: 'Flaky' });
  return `ok on attempt ${attempt}`;
}

/** Each cron run returns one more than the run before it. */
export async function cronCounter(): Promise<number> {
  const previous = (workflowInfo().lastResult as number | undefined) ?? 0;
  return previous + 1;
}

export async function startedAt(): Promise<number> {
  return workflowInfo().runStartTime.getTime();
}
