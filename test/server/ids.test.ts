// Workflow id uniqueness, reuse/conflict policies and requestId idempotency against longhaul-server.
import {
  TerminatedFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { failing, hello, sleeper } from '../workflows';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  await ctx?.close();
});

const newId = () => `ids-${randomUUID()}`;

async function runIdsOf(workflowId: string): Promise<string[]> {
  const runIds: string[] = [];
  for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(wf.runId);
  return runIds;
}

describe('workflow id uniqueness', () => {
  it('rejects starting the same workflow id twice while the first is running', async () => {
    const workflowId = newId();
    const first = await ctx.client.workflow.start(sleeper, { taskQueue: ctx.taskQueue, workflowId, args: [30_000] });
    const err = await ctx.client.workflow.start(sleeper, { taskQueue: ctx.taskQueue, workflowId, args: [10] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    expect((err as WorkflowExecutionAlreadyStartedError).workflowId).toBe(workflowId);
    expect((await first.describe()).status.name).toBe('RUNNING');
    expect(await runIdsOf(workflowId)).toEqual([first.firstExecutionRunId]);
    await first.terminate('cleanup');
  });
});

describe('workflowIdReusePolicy', () => {
  it('REJECT_DUPLICATE rejects a new run after the previous one closed', async () => {
    const workflowId = newId();
    await ctx.client.workflow.execute(hello, { taskQueue: ctx.taskQueue, workflowId, args: ['a'] });
    await expect(
      ctx.client.workflow.start(hello, {
        taskQueue: ctx.taskQueue,
        workflowId,
        args: ['b'],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    expect(await runIdsOf(workflowId)).toHaveLength(1);
  });

  it('ALLOW_DUPLICATE starts a new run after the previous one completed', async () => {
    const workflowId = newId();
    const first = await ctx.client.workflow.start(hello, { taskQueue: ctx.taskQueue, workflowId, args: ['a'] });
    expect(await first.result()).toBe('hello a');
    const second = await ctx.client.workflow.start(hello, {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: ['b'],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    expect(await second.result()).toBe('hello b');
    // The old run's result is still there.
    expect(await ctx.client.workflow.getHandle(workflowId, first.firstExecutionRunId).result()).toBe('hello a');
    expect((await runIdsOf(workflowId)).sort()).toEqual([first.firstExecutionRunId, second.firstExecutionRunId].sort());
  });

  it('ALLOW_DUPLICATE_FAILED_ONLY rejects after success', async () => {
    const workflowId = newId();
    await ctx.client.workflow.execute(hello, { taskQueue: ctx.taskQueue, workflowId, args: ['a'] });
    await expect(
      ctx.client.workflow.start(hello, {
        taskQueue: ctx.taskQueue,
        workflowId,
        args: ['b'],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  });

  it('ALLOW_DUPLICATE_FAILED_ONLY allows a new run after failure', async () => {
    const workflowId = newId();
    const first = await ctx.client.workflow.start(failing, { taskQueue: ctx.taskQueue, workflowId, args: ['x'] });
    await expect(first.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const second = await ctx.client.workflow.start(hello, {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: ['again'],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    expect(await second.result()).toBe('hello again');
  });

  it('ALLOW_DUPLICATE_FAILED_ONLY allows a new run after termination', async () => {
    const workflowId = newId();
    const first = await ctx.client.workflow.start(sleeper, { taskQueue: ctx.taskQueue, workflowId, args: [30_000] });
    await first.terminate('stop');
    const second = await ctx.client.workflow.start(hello, {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: ['after terminate'],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    expect(await second.result()).toBe('hello after terminate');
  });
});

describe('workflowIdConflictPolicy', () => {
  it('USE_EXISTING returns the running execution instead of starting a new one', async () => {
    const workflowId = newId();
    const first = await ctx.client.workflow.start(sleeper, { taskQueue: ctx.taskQueue, workflowId, args: [1000] });
    const second = await ctx.client.workflow.start(sleeper, {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: [60_000],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
    expect(await second.result()).toBe('slept');
    expect(await runIdsOf(workflowId)).toEqual([first.firstExecutionRunId]);
  });

  it('TERMINATE_EXISTING terminates the running execution and starts a new one', async () => {
    const workflowId = newId();
    const first = await ctx.client.workflow.start(sleeper, { taskQueue: ctx.taskQueue, workflowId, args: [60_000] });
    const second = await ctx.client.workflow.start(sleeper, {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: [100],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.TERMINATE_EXISTING,
    });
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    expect(await second.result()).toBe('slept');
    const firstErr = await first.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(firstErr).toBeInstanceOf(WorkflowFailedError);
    expect((firstErr as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
    // A handle from start() describes the latest run; address the first run explicitly.
    const firstRun = ctx.client.workflow.getHandle(workflowId, first.firstExecutionRunId);
    expect((await firstRun.describe()).status.name).toBe('TERMINATED');
    expect((await ctx.client.workflow.getHandle(workflowId).describe()).runId).toBe(second.firstExecutionRunId);
    expect((await runIdsOf(workflowId)).sort()).toEqual([first.firstExecutionRunId, second.firstExecutionRunId].sort());
  });
});

describe('requestId idempotency', () => {
  it('returns the same run for a repeated StartWorkflowExecution with the same requestId', async () => {
    const workflowId = newId();
    const requestId = randomUUID();
    const request = {
      namespace: ctx.client.options.namespace,
      workflowId,
      workflowType: { name: 'sleeper' },
      taskQueue: { name: ctx.taskQueue },
      input: { payloads: [defaultPayloadConverter.toPayload(500)] },
      requestId,
      identity: 'ids-test',
    };
    const first = await ctx.client.workflowService.startWorkflowExecution(request);
    const second = await ctx.client.workflowService.startWorkflowExecution(request);
    expect(first.runId).toBeTruthy();
    expect(second.runId).toBe(first.runId);

    // A different requestId for the same (running) id is a conflict.
    await expect(
      ctx.client.workflowService.startWorkflowExecution({ ...request, requestId: randomUUID() }),
    ).rejects.toThrow();

    expect(await ctx.client.workflow.getHandle(workflowId).result()).toBe('slept');
    expect(await runIdsOf(workflowId)).toEqual([first.runId]);
    expect((await ctx.client.workflow.count(`WorkflowId = '${workflowId}'`)).count).toBe(1);

    // Repeating the request after the run closed still returns the same run rather than starting another.
    const third = await ctx.client.workflowService.startWorkflowExecution(request);
    expect(third.runId).toBe(first.runId);
    expect((await ctx.client.workflow.count(`WorkflowId = '${workflowId}'`)).count).toBe(1);
  });
});
