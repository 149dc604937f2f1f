// Schedules across a crash: kill -9 longhaul-server (durable SQLite file) while an every-second
// ALLOW_ALL schedule runs, keep it down for a while, restart it on the same port, and check the
// schedule took every action time it missed (catch-up window) and goes on afterwards.
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { useDurableServer } from '../helpers/server';
import { scheduledHello } from '../workflows';

const server = useDurableServer('schedules');
let ctx: TestContext | undefined;
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

afterAll(async () => {
  await ctx?.close();
});

describe('schedules across a crash', () => {
  it('takes the action times missed while the server was down', async () => {
    ctx = await createTestContext({ address: server.current.address });
    const scheduleId = `catchup-${randomUUID()}`;
    const workflowId = `wf-${scheduleId}`;
    const handle = await ctx.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1s' }] },
      action: {
        type: 'startWorkflow',
        workflowType: scheduledHello,
        args: ['catch-up'],
        taskQueue: ctx.taskQueue,
        workflowId,
      },
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL, catchupWindow: '1 minute' },
    });
    for (let i = 0; i < 50 && (await handle.describe()).info.numActionsTaken < 2; i++) await sleepMs(100);
    const before = await handle.describe();
    expect(before.info.numActionsTaken).toBeGreaterThanOrEqual(2);

    await server.down('crash');
    const downAt = Date.now();
    await sleepMs(2500);
    await server.up();
    const upAt = Date.now();

    const after = await handle.describe();
    // Every whole second while the server was down was taken after the restart.
    const missed: number[] = [];
    for (let t = Math.ceil(downAt / 1000) * 1000; t <= upAt - 200; t += 1000) missed.push(t);
    expect(missed.length).toBeGreaterThanOrEqual(2);
    expect(after.info.numActionsTaken).toBeGreaterThanOrEqual(before.info.numActionsTaken + missed.length);
    expect(after.info.numActionsMissedCatchupWindow).toBe(0);
    for (const t of missed) {
      const id = `${workflowId}-${rfc3339(t)}`;
      const run = ctx.client.workflow.getHandle(id);
      const d = await run.describe();
      // Started by the restarted server, after the nominal time it was due.
      expect(d.startTime.getTime()).toBeGreaterThanOrEqual(Math.max(t, downAt + 2500));
      expect(await run.result()).toBe(`hello catch-up from ${id}`);
    }
    // And it goes on after the restart.
    const count = after.info.numActionsTaken;
    for (let i = 0; i < 50 && (await handle.describe()).info.numActionsTaken <= count; i++) await sleepMs(100);
    expect((await handle.describe()).info.numActionsTaken).toBeGreaterThan(count);
    await handle.delete();
  });
});
