// Workflow task lifecycle: a task handed out and never answered times out and is retried as a
// transient attempt; a real worker then completes the workflow on top of that history; history paging.
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { addSignal, collector, echoActivity, hello } from '../workflows';

const EventType = temporal.api.enums.v1.EventType;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
});

describe('workflow task timeouts', () => {
  it('retries a task that was taken and never answered, then a real worker completes the workflow', async () => {
    const taskQueue = `wft-timeout-${randomUUID()}`;
    const workflowId = `wft-timeout-${randomUUID()}`;
    const handle = await client.workflow.start(hello, {
      taskQueue,
      workflowId,
      args: ['after timeout'],
      workflowTaskTimeout: '1s',
    });
    // A "worker" that takes the first task and dies.
    const first = await client.workflowService.pollWorkflowTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      identity: 'doomed-worker',
    });
    expect(first.workflowExecution?.runId).toBe(handle.firstExecutionRunId);
    expect(first.attempt).toBe(1);
    const firstTypes = first.history!.events!.map((e) => e.eventType);
    expect(firstTypes).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]);

    // After the 1 s task timeout the retry carries the timed-out event and a transient attempt 2.
    const second = await client.workflowService.pollWorkflowTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      identity: 'second-doomed-worker',
    });
    expect(second.attempt).toBe(2);
    const secondTypes = second.history!.events!.map((e) => e.eventType);
    expect(secondTypes.slice(0, 6)).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]);
    // The stale token of the first attempt is refused.
    await expect(
      client.workflowService.respondWorkflowTaskCompleted({ taskToken: first.taskToken, commands: [] }),
    ).rejects.toThrow(/not found/i);

    // Now a real worker picks up the (third) attempt and completes the workflow.
    const ctx: TestContext = await createTestContext({ worker: { taskQueue } });
    try {
      expect(await handle.result()).toBe('hello after timeout');
    } finally {
      await ctx.close();
    }
    const types = (await handle.fetchHistory()).events!.map((e) => e.eventType);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length).toBe(1);
    expect(types.at(-1)).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
    // Event ids are dense and in order.
    const ids = (await handle.fetchHistory()).events!.map((e) => Number(e.eventId));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });
});

describe('history paging', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ activities: { echo: async (s: string) => s } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('pages through a history with maximumPageSize and returns no token at the end', async () => {
    const handle = await ctx.client.workflow.start(echoActivity, {
      taskQueue: ctx.taskQueue,
      workflowId: `paging-${randomUUID()}`,
      args: ['paged'],
    });
    await handle.result();
    const all = (await handle.fetchHistory()).events!;
    const seen: number[] = [];
    let token: Uint8Array | undefined;
    do {
      const page = await ctx.client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: handle.workflowId },
        maximumPageSize: 4,
        nextPageToken: token,
      });
      expect(page.history!.events!.length).toBeLessThanOrEqual(4);
      seen.push(...page.history!.events!.map((e) => Number(e.eventId)));
      token = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (token);
    expect(seen).toEqual(all.map((e) => Number(e.eventId)));
    expect(seen.length).toBeGreaterThan(8);
  });
});

describe('long histories', () => {
  it('hands a worker without a cache a paged history of more than 1000 events', async () => {
    const taskQueue = `long-history-${randomUUID()}`;
    const handle = await client.workflow.start(collector, {
      taskQueue,
      workflowId: `long-${randomUUID()}`,
      args: [1100],
    });
    for (let i = 0; i < 1100; i++) await handle.signal(addSignal, i);
    // No sticky cache: every task carries the full history, which now needs two pages.
    const ctx = await createTestContext({ worker: { taskQueue, maxCachedWorkflows: 0 } });
    try {
      const values = await handle.result();
      expect(values).toHaveLength(1100);
      expect(values[1099]).toBe(1099);
    } finally {
      await ctx.close();
    }
    expect((await handle.fetchHistory()).events!.length).toBeGreaterThan(1100);
  });
});
