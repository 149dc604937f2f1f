// A run waiting out its start delay (start delay, or a workflow retry's back-off) when the server is
// killed still gets its first workflow task, at the right time, after a restart.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { useDurableServer } from '../helpers/server';
import { collector, hello } from '../workflows';

const server = useDurableServer('delay');
let ctx: TestContext | undefined;

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
});

describe('delayed starts across a crash', () => {
  it('runs a delayed workflow after kill -9 and restart, not before its delay', async () => {
    const first = await createTestContext({ address: server.current.address });
    const t0 = Date.now();
    const delayed = await first.client.workflow.start(hello, {
      taskQueue: first.taskQueue,
      workflowId: `delayed-${randomUUID()}`,
      args: ['after the delay'],
      startDelay: '2s',
    });
    // A signal during the delay is recorded but does not start the run early.
    const withSignal = await first.client.workflow.signalWithStart(collector, {
      taskQueue: first.taskQueue,
      workflowId: `delayed-signal-${randomUUID()}`,
      args: [1],
      signal: 'add',
      signalArgs: [5],
      startDelay: '2s',
    });
    await first.close();
    await server.down('crash');
    await server.up();
    ctx = await createTestContext({ address: server.current.address, worker: { taskQueue: first.taskQueue } });
    expect(await ctx.client.workflow.getHandle(delayed.workflowId).result()).toBe('hello after the delay');
    expect(await ctx.client.workflow.getHandle(withSignal.workflowId).result()).toEqual([5]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    const events = (await ctx.client.workflow.getHandle(delayed.workflowId).fetchHistory()).events!;
    const firstTask = events.find((e) => e.workflowTaskStartedEventAttributes)!;
    const started = events[0];
    const gap = Number(firstTask.eventTime!.seconds) - Number(started.eventTime!.seconds);
    expect(gap).toBeGreaterThanOrEqual(1);
  });
});
