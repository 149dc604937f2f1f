// Crash recovery of a parent with running children: kill -9 the durable server while every child's
// activity is mid-flight, restart it, and the parent completes once with every child's result.
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { useDurableServer } from '../helpers/server';
import { parentOfSlow } from '../workflows';

const EventType = temporal.api.enums.v1.EventType;
const started = new Map<string, number>();
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const activities = {
  async slowStep(key: string): Promise<string> {
    started.set(key, (started.get(key) ?? 0) + 1);
    await sleepMs(2500);
    return `done-${key}`;
  },
};

const server = useDurableServer('crash-children');
const contexts: TestContext[] = [];

async function context(taskQueue?: string): Promise<TestContext> {
  const ctx = await createTestContext({
    address: server.current.address,
    activities,
    worker: { ...(taskQueue ? { taskQueue } : {}), stickyQueueScheduleToStartTimeout: '2s' },
  });
  contexts.push(ctx);
  return ctx;
}

afterAll(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => undefined);
});

describe('crash recovery with child workflows', () => {
  it('a parent with running children survives kill -9 of the server', async () => {
    const ctx1 = await context();
    const keys = Array.from({ length: 5 }, (_, i) => `c${i}`);
    const workflowId = `crash-parent-${randomUUID()}`;
    const handle = await ctx1.client.workflow.start(parentOfSlow, {
      taskQueue: ctx1.taskQueue,
      workflowId,
      args: [keys],
    });
    const deadline = Date.now() + 10_000;
    while (!keys.every((k) => started.has(k))) {
      if (Date.now() > deadline) throw new Error('children did not all start their activity before the crash');
      await sleepMs(20);
    }
    await server.down('crash');
    await server.up();
    await ctx1.close().catch(() => undefined);
    const ctx2 = await context(ctx1.taskQueue);

    expect(await ctx2.client.workflow.getHandle(workflowId).result()).toEqual(keys.map((k) => `done-${k}`));
    const events = (await ctx2.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).fetchHistory())
      .events!;
    const count = (t: number) => events.filter((e) => e.eventType === t).length;
    expect(count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)).toBe(5);
    expect(count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)).toBe(5);
    expect(count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED)).toBe(5);
    expect(count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)).toBe(1);
    for (const k of keys) {
      expect((await ctx2.client.workflow.count(`WorkflowId = '${workflowId}-${k}'`)).count).toBe(1);
    }
  });
});
