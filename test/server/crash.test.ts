// Crash recovery: kill -9 longhaul-server (durable SQLite file) with timers pending and activities running,
// restart it on the same port and check every workflow completes exactly once.
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { useDurableServer } from '../helpers/server';
import { hello, sleeper, slowActivityWorkflow } from '../workflows';

const starts = new Map<string, number>();
const completions = new Map<string, number>();
const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const activities = {
  async slowStep(key: string): Promise<string> {
    bump(starts, key);
    await sleepMs(2500);
    bump(completions, key);
    return `done-${key}`;
  },
};

const server = useDurableServer('crash');
const contexts: TestContext[] = [];

const helloId = `crash-hello-${randomUUID()}`;
const sleeperIds = Array.from({ length: 10 }, (_, i) => `crash-sleep-${i}-${randomUUID()}`);
const activityKeys = Array.from({ length: 10 }, (_, i) => `k${i}-${randomUUID()}`);
const activityId = (key: string) => `crash-act-${key}`;

async function history(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.map((e) => temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''));
}
const countOf = (types: string[], t: string) => types.filter((x) => x === t).length;

async function newContext(taskQueue?: string): Promise<TestContext> {
  const ctx = await createTestContext({
    address: server.current.address,
    activities,
    // Bound how long a workflow task may sit on a dead worker's sticky queue before going to the normal queue.
    worker: { ...(taskQueue ? { taskQueue } : {}), stickyQueueScheduleToStartTimeout: '2s' },
  });
  contexts.push(ctx);
  return ctx;
}

async function closeQuietly(ctx: TestContext): Promise<void> {
  const i = contexts.indexOf(ctx);
  if (i >= 0) contexts.splice(i, 1);
  try {
    await ctx.close();
  } catch {
    // a worker that lost its server may end with an error; that is not what these tests check
  }
}

afterAll(async () => {
  for (const ctx of [...contexts]) await closeQuietly(ctx);
});

describe('crash recovery (kill -9)', () => {
  it('completes every workflow exactly once after the server is killed and restarted', async () => {
    const ctx1 = await newContext();
    const taskQueue = ctx1.taskQueue;

    expect(await ctx1.client.workflow.execute(hello, { taskQueue, workflowId: helloId, args: ['before crash'] })).toBe(
      'hello before crash',
    );

    const sleepersStartedAt = Date.now();
    for (const workflowId of sleeperIds) {
      await ctx1.client.workflow.start(sleeper, { taskQueue, workflowId, args: [4000] });
    }
    for (const key of activityKeys) {
      await ctx1.client.workflow.start(slowActivityWorkflow, { taskQueue, workflowId: activityId(key), args: [key] });
    }
    const deadline = Date.now() + 10_000;
    while (!activityKeys.every((k) => (starts.get(k) ?? 0) >= 1)) {
      if (Date.now() > deadline) throw new Error('activities did not all start before the crash');
      await sleepMs(20);
    }

    // The crash must hit activities mid-flight (each takes 2.5s) and timers before they fire (4s).
    expect(completions.size).toBe(0);
    expect(Date.now() - sleepersStartedAt).toBeLessThan(4000);
    await server.down('crash');
    await server.up();
    await closeQuietly(ctx1);
    const ctx2 = await newContext(taskQueue);

    const sleeperResults = await Promise.all(sleeperIds.map((id) => ctx2.client.workflow.getHandle(id).result()));
    expect(sleeperResults).toEqual(sleeperIds.map(() => 'slept'));
    const activityResults = await Promise.all(
      activityKeys.map((k) => ctx2.client.workflow.getHandle(activityId(k)).result()),
    );
    expect(activityResults).toEqual(activityKeys.map((k) => `done-${k}`));

    for (const key of activityKeys) expect(completions.get(key) ?? 0).toBeGreaterThanOrEqual(1);

    for (const id of sleeperIds) {
      const types = await history(ctx2.client.workflow.getHandle(id));
      expect(countOf(types, 'TIMER_STARTED')).toBe(1);
      expect(countOf(types, 'TIMER_FIRED')).toBe(1);
      expect(countOf(types, 'WORKFLOW_EXECUTION_COMPLETED')).toBe(1);
      expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_COMPLETED');
    }
    for (const key of activityKeys) {
      const types = await history(ctx2.client.workflow.getHandle(activityId(key)));
      expect(countOf(types, 'ACTIVITY_TASK_SCHEDULED')).toBe(1);
      expect(countOf(types, 'ACTIVITY_TASK_COMPLETED')).toBe(1);
      expect(countOf(types, 'WORKFLOW_EXECUTION_COMPLETED')).toBe(1);
      expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_COMPLETED');
    }

    // No workflow id got a second execution.
    for (const id of [helloId, ...sleeperIds, ...activityKeys.map(activityId)]) {
      expect((await ctx2.client.workflow.count(`WorkflowId = '${id}'`)).count).toBe(1);
    }

    // The workflow that completed before the crash is still there with its result.
    const before = ctx2.client.workflow.getHandle(helloId);
    expect(await before.result()).toBe('hello before crash');
    expect((await before.describe()).status.name).toBe('COMPLETED');
  });

  it('keeps completed results readable after another kill -9 and restart', async () => {
    for (const ctx of [...contexts]) await closeQuietly(ctx);
    await server.down('crash');
    await server.up();

    const connection = await Connection.connect({ address: server.current.address });
    try {
      const client = new Client({ connection });
      expect(await client.workflow.getHandle(helloId).result()).toBe('hello before crash');
      for (const id of sleeperIds) expect(await client.workflow.getHandle(id).result()).toBe('slept');
      for (const key of activityKeys) {
        const handle = client.workflow.getHandle(activityId(key));
        expect(await handle.result()).toBe(`done-${key}`);
        expect((await handle.describe()).status.name).toBe('COMPLETED');
      }
      const ids = new Set<string>();
      for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Completed'` })) ids.add(wf.workflowId);
      for (const id of [helloId, ...sleeperIds, ...activityKeys.map(activityId)]) expect(ids.has(id)).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
