// Workflow lifecycle against longhaul-server: cancel, terminate, describe, continue-as-new, history, failure.
import { ApplicationFailure as ActivityApplicationFailure } from '@temporalio/activity';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { continuer, echoActivity, failing, hello, runActivity, sleeper, waitForCancel } from '../workflows';

const cancellationsSeen = new Map<string, string>();

const activities = {
  async echo(s: string): Promise<string> {
    return s;
  },
  async recordCancellation(workflowId: string, errorName: string): Promise<void> {
    cancellationsSeen.set(workflowId, errorName);
  },
  async alwaysFail(): Promise<never> {
    throw ActivityApplicationFailure.retryable('still broken', 'BrokenError');
  },
};

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ activities });
});

afterAll(async () => {
  await ctx?.close();
});

const opts = () => ({ taskQueue: ctx.taskQueue, workflowId: `lc-${randomUUID()}` });
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.map((e) => temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''));
}

async function failureOf(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

describe('cancel', () => {
  it('delivers CancelledFailure to the workflow and result() rejects with it', async () => {
    const handle = await ctx.client.workflow.start(waitForCancel, opts());
    // Wait until the workflow's timer is in place so the cancel hits a running workflow body.
    for (let i = 0; i < 200 && !(await eventTypes(handle)).includes('TIMER_STARTED'); i++) await sleepMs(25);
    await handle.cancel();
    const err = await failureOf(handle.result());
    expect(err.cause).toBeInstanceOf(CancelledFailure);
    expect(cancellationsSeen.get(handle.workflowId)).toBe('CancelledFailure');
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    const types = await eventTypes(handle);
    expect(types).toContain('WORKFLOW_EXECUTION_CANCEL_REQUESTED');
    expect(types).toContain('TIMER_CANCELED');
    expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_CANCELED');
  });
});

describe('terminate', () => {
  it('terminates a running workflow; result() rejects with TerminatedFailure', async () => {
    const handle = await ctx.client.workflow.start(sleeper, { ...opts(), args: [60_000] });
    await handle.terminate('enough');
    const err = await failureOf(handle.result());
    expect(err.cause).toBeInstanceOf(TerminatedFailure);
    expect(err.cause!.message).toBe('enough');
    const desc = await handle.describe();
    expect(desc.status.name).toBe('TERMINATED');
    expect(desc.closeTime).toBeInstanceOf(Date);
    const history = await handle.fetchHistory();
    const last = history.events!.at(-1)!;
    expect(temporal.api.enums.v1.EventType[last.eventType!]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED');
    expect(last.workflowExecutionTerminatedEventAttributes!.reason).toBe('enough');
  });

  it('rejects terminating an already closed workflow', async () => {
    const handle = await ctx.client.workflow.start(hello, { ...opts(), args: ['x'] });
    await handle.result();
    await expect(handle.terminate('too late')).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });
});

describe('describe', () => {
  it('reports RUNNING then COMPLETED with workflow type and task queue', async () => {
    const handle = await ctx.client.workflow.start(sleeper, { ...opts(), args: [1000] });
    const running = await handle.describe();
    expect(running.status.name).toBe('RUNNING');
    expect(running.workflowId).toBe(handle.workflowId);
    expect(running.runId).toBe(handle.firstExecutionRunId);
    expect(running.type).toBe('sleeper');
    expect(running.taskQueue).toBe(ctx.taskQueue);
    expect(running.startTime).toBeInstanceOf(Date);
    expect(running.closeTime).toBeUndefined();
    expect(await handle.result()).toBe('slept');
    const done = await handle.describe();
    expect(done.status.name).toBe('COMPLETED');
    expect(done.closeTime).toBeInstanceOf(Date);
    expect(done.closeTime!.getTime()).toBeGreaterThanOrEqual(done.startTime.getTime() + 1000);
    expect(done.historyLength).toBe((await handle.fetchHistory()).events!.length);
  });

  it('lists a retrying activity as pending with its attempt and last failure', async () => {
    const handle = await ctx.client.workflow.start(runActivity, {
      ...opts(),
      args: [
        'alwaysFail',
        [],
        { startToCloseTimeout: '10s', retry: { initialInterval: '1s', backoffCoefficient: 1, maximumAttempts: 20 } },
      ],
    });
    let pending: temporal.api.workflow.v1.IPendingActivityInfo | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const desc = await handle.describe();
      pending = desc.raw.pendingActivities?.[0];
      if (pending && (pending.attempt ?? 0) >= 2) break;
      await sleepMs(100);
    }
    expect(pending).toBeDefined();
    expect(pending!.activityType!.name).toBe('alwaysFail');
    expect(pending!.attempt).toBeGreaterThanOrEqual(2);
    expect(pending!.maximumAttempts).toBe(20);
    expect(pending!.lastFailure).toBeTruthy();
    expect(pending!.lastFailure!.message).toBe('still broken');
    expect(pending!.lastFailure!.applicationFailureInfo?.type).toBe('BrokenError');
    await handle.terminate('done checking');
  });
});

describe('continue-as-new', () => {
  it('result() follows the run chain to the final run', async () => {
    const handle = await ctx.client.workflow.start(continuer, { ...opts(), args: [0, 2, []] });
    expect(await handle.result()).toBe('done at 2 after 3 runs');

    const latest = await ctx.client.workflow.getHandle(handle.workflowId).describe();
    expect(latest.status.name).toBe('COMPLETED');
    expect(latest.runId).not.toBe(handle.firstExecutionRunId);

    const firstRun = ctx.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
    const firstHistory = await firstRun.fetchHistory();
    const last = firstHistory.events!.at(-1)!;
    expect(temporal.api.enums.v1.EventType[last.eventType!]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    const nextRunId = last.workflowExecutionContinuedAsNewEventAttributes!.newExecutionRunId!;
    expect(nextRunId).toBeTruthy();
    const secondRun = ctx.client.workflow.getHandle(handle.workflowId, nextRunId);
    const secondStarted = (await secondRun.fetchHistory()).events![0].workflowExecutionStartedEventAttributes!;
    expect(secondStarted.continuedExecutionRunId).toBe(handle.firstExecutionRunId);
    expect(secondStarted.firstExecutionRunId).toBe(handle.firstExecutionRunId);

    const runs: string[] = [];
    for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
      runs.push(wf.runId);
    }
    expect(runs).toHaveLength(3);
  });
});

describe('history', () => {
  it('records the expected events in order for a one-activity workflow', async () => {
    const handle = await ctx.client.workflow.start(echoActivity, { ...opts(), args: ['ping'] });
    expect(await handle.result()).toBe('ping');
    const history = await handle.fetchHistory();
    const events = history.events!;
    expect(events.map((e) => temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''))).toEqual([
      'WORKFLOW_EXECUTION_STARTED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'ACTIVITY_TASK_SCHEDULED',
      'ACTIVITY_TASK_STARTED',
      'ACTIVITY_TASK_COMPLETED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'WORKFLOW_EXECUTION_COMPLETED',
    ]);
    expect(events.map((e) => Number(e.eventId))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const started = events[0].workflowExecutionStartedEventAttributes!;
    expect(started.workflowType!.name).toBe('echoActivity');
    expect(started.taskQueue!.name).toBe(ctx.taskQueue);
    expect(events[4].activityTaskScheduledEventAttributes!.activityType!.name).toBe('echo');
    expect(Number(events[5].activityTaskStartedEventAttributes!.scheduledEventId)).toBe(5);
    expect(Number(events[6].activityTaskCompletedEventAttributes!.scheduledEventId)).toBe(5);
    expect(Number(events[6].activityTaskCompletedEventAttributes!.startedEventId)).toBe(6);
    const completed = events[10].workflowExecutionCompletedEventAttributes!;
    expect(JSON.parse(Buffer.from(completed.result!.payloads![0].data!).toString())).toBe('ping');
  });
});

describe('failure', () => {
  it('an ApplicationFailure thrown by the workflow fails it with WorkflowFailedError', async () => {
    const handle = await ctx.client.workflow.start(failing, { ...opts(), args: ['it broke'] });
    const err = await failureOf(handle.result());
    expect(err.cause).toBeInstanceOf(ApplicationFailure);
    const cause = err.cause as ApplicationFailure;
    expect(cause.message).toBe('it broke');
    expect(cause.type).toBe('MyWorkflowError');
    expect(cause.details).toEqual(['detail-1', 42]);
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect((await eventTypes(handle)).at(-1)).toBe('WORKFLOW_EXECUTION_FAILED');
  });
});

describe('workflow timeouts', () => {
  it('times out a workflow that outlives workflowExecutionTimeout', async () => {
    const t0 = Date.now();
    const handle = await ctx.client.workflow.start(sleeper, {
      ...opts(),
      args: [60_000],
      workflowExecutionTimeout: '1s',
    });
    const err = await failureOf(handle.result());
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(10_000);
    expect(err.cause).toBeInstanceOf(TimeoutFailure);
    expect((await handle.describe()).status.name).toBe('TIMED_OUT');
    expect((await eventTypes(handle)).at(-1)).toBe('WORKFLOW_EXECUTION_TIMED_OUT');
  });
});
