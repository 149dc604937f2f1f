// Child workflows, parent close policies, and signal/cancel of external workflows, with the real SDK.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestContext } from '../helpers/env';
import {
  cancelsOther,
  fanOut,
  parentCancelsChild,
  parentOfContinuing,
  parentOfDuplicate,
  parentOfFailing,
  parentWithPolicy,
  pingsQuery,
  signalsOther,
  waitForever,
} from '../workflows';

const EventType = temporal.api.enums.v1.EventType;
const Status = temporal.api.enums.v1.WorkflowExecutionStatus;
const ctx = useTestContext();
const id = (p: string) => `${p}-${randomUUID()}`;

async function statusOf(workflowId: string, runId?: string): Promise<number> {
  const d = await ctx.client.workflow.getHandle(workflowId, runId).describe();
  return d.raw.workflowExecutionInfo!.status!;
}

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('child workflows', () => {
  it('fans out 50 children and fans their results back in', async () => {
    const result = await ctx.client.workflow.execute(fanOut, {
      taskQueue: ctx.taskQueue,
      workflowId: id('fan'),
      args: [50],
    });
    expect(result).toBe(Array.from({ length: 50 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
  });

  it('records initiated/started/completed events and links the child to its parent', async () => {
    const workflowId = id('fan-small');
    const handle = await ctx.client.workflow.start(fanOut, { taskQueue: ctx.taskQueue, workflowId, args: [2] });
    expect(await handle.result()).toBe(1);
    const types = (await handle.fetchHistory()).events!.map((e) => e.eventType);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)).toHaveLength(2);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)).toHaveLength(2);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED)).toHaveLength(2);
    const child = await ctx.client.workflow.getHandle(`${workflowId}-c1`).describe();
    expect(child.parentExecution?.workflowId).toBe(workflowId);
    const started = (await ctx.client.workflow.getHandle(`${workflowId}-c1`).fetchHistory()).events![0]
      .workflowExecutionStartedEventAttributes!;
    expect(started.parentWorkflowExecution?.runId).toBe(handle.firstExecutionRunId);
    expect(Number(started.parentInitiatedEventId)).toBeGreaterThan(0);
  });

  it('reports a failed child as ChildWorkflowFailure with the cause', async () => {
    const r = await ctx.client.workflow.execute(parentOfFailing, { taskQueue: ctx.taskQueue, workflowId: id('pf') });
    expect(r).toBe('ChildWorkflowFailure: child broke');
  });

  it('fails the child start when the id is already running', async () => {
    const childId = id('dup-child');
    const running = await ctx.client.workflow.start(waitForever, { taskQueue: ctx.taskQueue, workflowId: childId });
    const r = await ctx.client.workflow.execute(parentOfDuplicate, {
      taskQueue: ctx.taskQueue,
      workflowId: id('dup-parent'),
      args: [childId],
    });
    expect(r).toBe(WorkflowExecutionAlreadyStartedError.name);
    await running.terminate();
  });

  it('follows a child that continues as new to its final result', async () => {
    expect(
      await ctx.client.workflow.execute(parentOfContinuing, { taskQueue: ctx.taskQueue, workflowId: id('pc') }),
    ).toBe(42);
  });

  it('cancels a child and waits for the cancellation to complete', async () => {
    const childId = id('cancel-child');
    const r = await ctx.client.workflow.execute(parentCancelsChild, {
      taskQueue: ctx.taskQueue,
      workflowId: id('cancel-parent'),
      args: [childId],
    });
    // The child catches the cancellation and returns normally, so its result is a completion.
    expect(r).toBe('completed: child saw cancellation');
    expect(await statusOf(childId)).toBe(Status.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    const childHistory = (await ctx.client.workflow.getHandle(childId).fetchHistory()).events!;
    expect(childHistory.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)).toBe(
      true,
    );
  });
});

describe('parent close policies', () => {
  it('TERMINATE ends the child when the parent closes', async () => {
    const childId = id('pcp-term');
    await ctx.client.workflow.execute(parentWithPolicy, {
      taskQueue: ctx.taskQueue,
      workflowId: id('pcp-term-parent'),
      args: [childId, 'TERMINATE'],
    });
    expect(await statusOf(childId)).toBe(Status.WORKFLOW_EXECUTION_STATUS_TERMINATED);
  });

  it('REQUEST_CANCEL asks the child to cancel', async () => {
    const childId = id('pcp-cancel');
    await ctx.client.workflow.execute(parentWithPolicy, {
      taskQueue: ctx.taskQueue,
      workflowId: id('pcp-cancel-parent'),
      args: [childId, 'REQUEST_CANCEL'],
    });
    expect(await ctx.client.workflow.getHandle(childId).result()).toBe('child saw cancellation');
  });

  it('ABANDON leaves the child running', async () => {
    const childId = id('pcp-abandon');
    await ctx.client.workflow.execute(parentWithPolicy, {
      taskQueue: ctx.taskQueue,
      workflowId: id('pcp-abandon-parent'),
      args: [childId, 'ABANDON'],
    });
    expect(await statusOf(childId)).toBe(Status.WORKFLOW_EXECUTION_STATUS_RUNNING);
    await ctx.client.workflow.getHandle(childId).terminate();
  });
});

describe('external workflows', () => {
  it('signals another workflow from a workflow', async () => {
    const targetId = id('ext-target');
    const target = await ctx.client.workflow.start(waitForever, { taskQueue: ctx.taskQueue, workflowId: targetId });
    await ctx.client.workflow.execute(signalsOther, {
      taskQueue: ctx.taskQueue,
      workflowId: id('ext-signaller'),
      args: [targetId, 3],
    });
    expect(await target.result()).toBe('released after 3 pings');
    expect(await target.query(pingsQuery)).toEqual(['p0', 'p1', 'p2']);
  });

  it('fails to signal a workflow that does not exist', async () => {
    const err = await ctx.client.workflow
      .execute(signalsOther, { taskQueue: ctx.taskQueue, workflowId: id('ext-nobody'), args: [id('nobody'), 1] })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect((err?.cause as Error | undefined)?.message).toMatch(/not found/i);
  });

  it('requests cancellation of another workflow', async () => {
    const targetId = id('ext-cancel-target');
    const target = await ctx.client.workflow.start(waitForever, { taskQueue: ctx.taskQueue, workflowId: targetId });
    const r = await ctx.client.workflow.execute(cancelsOther, {
      taskQueue: ctx.taskQueue,
      workflowId: id('ext-canceller'),
      args: [targetId],
    });
    expect(r).toBe('cancel requested');
    expect(await target.result()).toBe('child saw cancellation');
    await eventually(async () => (await statusOf(targetId)) === Status.WORKFLOW_EXECUTION_STATUS_COMPLETED);
  });
});
