// Workflow updates: accepted/completed with events, rejected by a validator with none, async
// stages, update-with-start, and updates on closed workflows.
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestContext } from '../helpers/env';
import { addUpdate, counter, finishUpdate, slowAddUpdate } from '../workflows';

const EventType = temporal.api.enums.v1.EventType;
const ctx = useTestContext();
const id = (p: string) => `${p}-${randomUUID()}`;

async function eventTypes(workflowId: string): Promise<number[]> {
  return (await ctx.client.workflow.getHandle(workflowId).fetchHistory()).events!.map((e) => e.eventType!);
}

describe('workflow updates', () => {
  it('runs accepted updates and records accepted/completed events', async () => {
    const handle = await ctx.client.workflow.start(counter, { taskQueue: ctx.taskQueue, workflowId: id('upd') });
    expect(await handle.executeUpdate(addUpdate, { args: [5] })).toBe(5);
    expect(await handle.executeUpdate(addUpdate, { args: [7] })).toBe(12);
    expect(await handle.executeUpdate(finishUpdate)).toBe(12);
    expect(await handle.result()).toBe(12);
    const types = await eventTypes(handle.workflowId);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)).toHaveLength(3);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)).toHaveLength(3);
  });

  it('rejects an update in the validator and leaves no events at all', async () => {
    const handle = await ctx.client.workflow.start(counter, { taskQueue: ctx.taskQueue, workflowId: id('upd-rej') });
    expect(await handle.executeUpdate(addUpdate, { args: [1] })).toBe(1);
    const before = await eventTypes(handle.workflowId);
    for (const n of [-1, -2]) {
      const err = await handle.executeUpdate(addUpdate, { args: [n] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((err as WorkflowUpdateFailedError).cause as Error).message).toBe(`negative amounts are rejected: ${n}`);
    }
    // The workflow task that carried the rejected updates was discarded: history is unchanged.
    expect(await eventTypes(handle.workflowId)).toEqual(before);
    // The workflow is unaffected and keeps taking updates and signals.
    expect(await handle.executeUpdate(addUpdate, { args: [3] })).toBe(4);
    await handle.executeUpdate(finishUpdate);
    expect(await handle.result()).toBe(4);
  });

  it('returns at the accepted stage and completes later', async () => {
    const handle = await ctx.client.workflow.start(counter, { taskQueue: ctx.taskQueue, workflowId: id('upd-async') });
    const upd = await handle.startUpdate(slowAddUpdate, { args: [4], waitForStage: WorkflowUpdateStage.ACCEPTED });
    expect(upd.updateId).toBeTruthy();
    expect(await upd.result()).toBe(4);
    // A handle fetched by id polls the same outcome.
    expect(await handle.getUpdateHandle<number>(upd.updateId).result()).toBe(4);
    await handle.executeUpdate(finishUpdate);
  });

  it('deduplicates an update id', async () => {
    const handle = await ctx.client.workflow.start(counter, { taskQueue: ctx.taskQueue, workflowId: id('upd-dedup') });
    const updateId = randomUUID();
    expect(await handle.executeUpdate(addUpdate, { args: [2], updateId })).toBe(2);
    expect(await handle.executeUpdate(addUpdate, { args: [2], updateId })).toBe(2);
    expect(await handle.executeUpdate(finishUpdate)).toBe(2);
  });

  it('update-with-start starts the workflow and runs the update', async () => {
    const workflowId = id('upd-ws');
    const op = () =>
      new WithStartWorkflowOperation(counter, {
        workflowId,
        taskQueue: ctx.taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    expect(
      await ctx.client.workflow.executeUpdateWithStart(addUpdate, { args: [10], startWorkflowOperation: op() }),
    ).toBe(10);
    // Again: the running workflow is used.
    expect(
      await ctx.client.workflow.executeUpdateWithStart(addUpdate, { args: [1], startWorkflowOperation: op() }),
    ).toBe(11);
    const handle = ctx.client.workflow.getHandle(workflowId);
    await handle.executeUpdate(finishUpdate);
    expect(await handle.result()).toBe(11);
  });

  it('refuses updates to a completed workflow', async () => {
    const handle = await ctx.client.workflow.start(counter, { taskQueue: ctx.taskQueue, workflowId: id('upd-closed') });
    await handle.executeUpdate(finishUpdate);
    await handle.result();
    await expect(handle.executeUpdate(addUpdate, { args: [1] })).rejects.toThrow(/completed|not found/i);
  });
});
