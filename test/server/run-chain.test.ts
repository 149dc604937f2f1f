// Workflow-level retries, cron schedules and start delays: runs that follow a closed run.
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestContext } from '../helpers/env';
import { cronCounter, flakyWorkflow, hello } from '../workflows';

const Status = temporal.api.enums.v1.WorkflowExecutionStatus;
const RetryState = temporal.api.enums.v1.RetryState;
const ctx = useTestContext();
const id = (p: string) => `${p}-${randomUUID()}`;

async function runsOf(workflowId: string) {
  const runs = [];
  for await (const r of ctx.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(r);
  return runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
}

describe('workflow retries', () => {
  it('retries a failed workflow under its RetryPolicy and result() follows to the run that succeeds', async () => {
    const workflowId = id('wf-retry');
    const handle = await ctx.client.workflow.start(flakyWorkflow, {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: [3],
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 5 },
    });
    expect(await handle.result()).toBe('ok on attempt 3');
    const runs = await runsOf(workflowId);
    expect(runs.map((r) => r.status.name)).toEqual(['FAILED', 'FAILED', 'COMPLETED']);
    const first = (await ctx.client.workflow.getHandle(workflowId, runs[0].runId).fetchHistory()).events!;
    const failed = first.at(-1)!.workflowExecutionFailedEventAttributes!;
    expect(failed.retryState).toBe(RetryState.RETRY_STATE_IN_PROGRESS);
    expect(failed.newExecutionRunId).toBe(runs[1].runId);
    const third = (await ctx.client.workflow.getHandle(workflowId, runs[2].runId).fetchHistory()).events![0]
      .workflowExecutionStartedEventAttributes!;
    expect(third.attempt).toBe(3);
    expect(third.firstExecutionRunId).toBe(runs[0].runId);
    expect(third.continuedFailure?.message).toBe('attempt 2 failed');
  });

  it('stops after maximumAttempts and reports MAXIMUM_ATTEMPTS_REACHED', async () => {
    const err = await ctx.client.workflow
      .execute(flakyWorkflow, {
        taskQueue: ctx.taskQueue,
        workflowId: id('wf-retry-max'),
        args: [10],
        retry: { initialInterval: '50ms', maximumAttempts: 2 },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).retryState).toBe('MAXIMUM_ATTEMPTS_REACHED');
    expect((err as WorkflowFailedError).cause?.message).toBe('attempt 2 failed');
  });
});

describe('cron schedules', () => {
  it('starts a new run per cron tick and hands each run the previous result', async () => {
    const workflowId = id('cron');
    const handle = await ctx.client.workflow.start(cronCounter, {
      taskQueue: ctx.taskQueue,
      workflowId,
      cronSchedule: '@every 1s',
    });
    await new Promise((r) => setTimeout(r, 3300));
    await handle.terminate('test over');
    const runs = await runsOf(workflowId);
    const completed = runs.filter((r) => r.status.code === Status.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    expect(completed.length).toBeGreaterThanOrEqual(2);
    // Results count up: run n returns n.
    const results = [];
    for (const r of completed) {
      const events = (await ctx.client.workflow.getHandle(workflowId, r.runId).fetchHistory()).events!;
      const payload = events.at(-1)!.workflowExecutionCompletedEventAttributes!.result!.payloads![0];
      results.push(JSON.parse(Buffer.from(payload.data!).toString()));
    }
    expect(results).toEqual(results.map((_, i) => i + 1));
  });

  it('rejects an invalid cron expression', async () => {
    const err = await ctx.client.workflow
      .start(cronCounter, { taskQueue: ctx.taskQueue, workflowId: id('cron-bad'), cronSchedule: 'not a cron' })
      .catch((e: Error) => e);
    expect(((err as Error).cause as Error).message).toMatch(/INVALID_ARGUMENT: invalid cron schedule "not a cron"/);
  });
});

describe('start delay', () => {
  it('does not run the first workflow task before the delay', async () => {
    const t0 = Date.now();
    const handle = await ctx.client.workflow.start(hello, {
      taskQueue: ctx.taskQueue,
      workflowId: id('delayed'),
      args: ['later'],
      startDelay: '1200ms',
    });
    expect(await handle.result()).toBe('hello later');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1150);
    const d = await handle.describe();
    expect(d.executionTime!.getTime() - d.startTime.getTime()).toBeGreaterThanOrEqual(1150);
  });
});
