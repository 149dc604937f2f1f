// Graceful restart: SIGTERM longhaul-server (durable SQLite file), start it again on the same port, and check that
// open workflows continue with the same worker and that closed ones keep their results.
import { type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { useDurableServer } from '../helpers/server';
import { addSignal, collector, echoActivity, hello, sleeper, valuesQuery } from '../workflows';

const server = useDurableServer('restart');
let ctx: TestContext | undefined;

async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.map((e) => temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''));
}

beforeAll(async () => {
  ctx = await createTestContext({
    address: server.current.address,
    activities: { echo: async (s: string) => `echo ${s}` },
  });
});

afterAll(async () => {
  await ctx?.close();
});

describe('graceful restart (SIGTERM)', () => {
  it('open workflows continue after a graceful stop and restart', async () => {
    const c = ctx!;
    const done = await c.client.workflow.start(hello, {
      taskQueue: c.taskQueue,
      workflowId: `restart-hello-${randomUUID()}`,
      args: ['before'],
    });
    expect(await done.result()).toBe('hello before');

    const waiting = await c.client.workflow.start(collector, {
      taskQueue: c.taskQueue,
      workflowId: `restart-collector-${randomUUID()}`,
      args: [2],
    });
    await waiting.signal(addSignal, 1);
    expect(await waiting.query(valuesQuery)).toEqual([1]);
    const timer = await c.client.workflow.start(sleeper, {
      taskQueue: c.taskQueue,
      workflowId: `restart-sleeper-${randomUUID()}`,
      args: [2500],
    });

    await server.down('stop');
    expect(server.current.process.exitCode).toBe(0);
    await server.up();

    // The same worker and client reconnect to the restarted server.
    expect(await timer.result()).toBe('slept');
    expect(await waiting.query(valuesQuery)).toEqual([1]);
    await waiting.signal(addSignal, 2);
    expect(await waiting.result()).toEqual([1, 2]);
    const types = await eventTypes(waiting);
    expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_SIGNALED')).toHaveLength(2);
    expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_COMPLETED')).toHaveLength(1);

    // New work after the restart goes through too, and old results are still there.
    expect(
      await c.client.workflow.execute(echoActivity, {
        taskQueue: c.taskQueue,
        workflowId: `restart-echo-${randomUUID()}`,
        args: ['after'],
      }),
    ).toBe('echo after');
    expect(await done.result()).toBe('hello before');
    expect((await done.describe()).status.name).toBe('COMPLETED');
  });
});
