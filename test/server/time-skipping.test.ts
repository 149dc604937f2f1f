// @temporalio/testing's time-skipping environment (TestWorkflowEnvironment.createTimeSkipping) running
// longhaul-server as its test-server executable; --enable-time-skipping; and a normal server that never skips.
import { Connection } from '@temporalio/client';
import { InternalConnectionOptionsSymbol } from '@temporalio/client/lib/connection';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../server/cli';
import { createTestContext, quietRuntime, workflowBundle } from '../helpers/env';
import { SERVER_BIN, startServer } from '../helpers/server';
import {
  activityVersusTimer,
  addSignal,
  collector,
  conditionWithTimeout,
  longSleep,
  measuredSleep,
  sleeper,
  unblockSignal,
  valuesQuery,
} from '../workflows';

const DAY = 24 * 60 * 60 * 1000;

const activities = {
  echo: async (s: string) => s,
  slowEcho: async (s: string) => {
    await delay(400);
    return s;
  },
};

describe('time-skipping environment (createTimeSkipping)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `skip-${randomUUID()}`;
  const wid = (name: string) => `skip-${name}-${randomUUID()}`;

  beforeAll(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: SERVER_BIN } },
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities,
    });
    running = worker.run();
  });

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await env?.teardown();
  });

  it('is a time-skipping environment', () => {
    expect(env.supportsTimeSkipping).toBe(true);
  });

  it('runs 90 days of sleeps with activities in between in well under a second', async () => {
    const before = await env.currentTimeMs();
    const t0 = Date.now();
    const result = await env.client.workflow.execute(longSleep, { taskQueue, workflowId: wid('long'), args: [3] });
    const wall = Date.now() - t0;
    expect(result.echoed).toEqual(['start', 'leg 1', 'leg 2', 'leg 3']);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(90 * DAY);
    expect(result.elapsedMs).toBeLessThan(90 * DAY + 60_000);
    expect(wall).toBeLessThan(5_000);
    const after = await env.currentTimeMs();
    expect(after - before).toBeGreaterThanOrEqual(90 * DAY);
    expect(after - before).toBeLessThan(90 * DAY + 60_000);
  });

  it('env.sleep advances server time by the duration', async () => {
    const before = await env.currentTimeMs();
    const t0 = Date.now();
    await env.sleep('1 day');
    expect(Date.now() - t0).toBeLessThan(5_000);
    const after = await env.currentTimeMs();
    expect(after - before).toBeGreaterThanOrEqual(DAY);
    expect(after - before).toBeLessThan(DAY + 60_000);
  });

  it('does not skip while the test holds the lock, nor past the time env.sleep asked for', async () => {
    const handle = await env.client.workflow.start(conditionWithTimeout, {
      taskQueue,
      workflowId: wid('locked'),
      args: [30 * DAY],
    });
    // Not awaiting the result: the lock is held, time runs at wall speed and the 30-day timer waits.
    const before = await env.currentTimeMs();
    await delay(700);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const mid = await env.currentTimeMs();
    expect(mid - before).toBeLessThan(60_000);
    // Sleeping one day skips exactly that far, not to the 30-day timeout.
    await env.sleep('1 day');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const after = await env.currentTimeMs();
    expect(after - mid).toBeGreaterThanOrEqual(DAY);
    expect(after - mid).toBeLessThan(DAY + 60_000);
    // The signal arrives before the timeout: the condition is met in time.
    await handle.signal(unblockSignal);
    expect(await handle.result()).toBe(true);
    expect((await env.currentTimeMs()) - after).toBeLessThan(60_000);
  });

  it('skips to the timeout when the result is awaited with no signal coming', async () => {
    const before = await env.currentTimeMs();
    const t0 = Date.now();
    const timedOut = await env.client.workflow.execute(conditionWithTimeout, {
      taskQueue,
      workflowId: wid('timeout'),
      args: [30 * DAY],
    });
    expect(timedOut).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(30 * DAY);
  });

  it('answers queries and signals after time has skipped far past the last poll', async () => {
    const handle = await env.client.workflow.start(collector, { taskQueue, workflowId: wid('query'), args: [1] });
    expect(await handle.query(valuesQuery)).toEqual([]);
    await env.sleep('7 days');
    expect(await handle.query(valuesQuery)).toEqual([]);
    await handle.signal(addSignal, 42);
    expect(await handle.result()).toEqual([42]);
  });

  it('does not skip while an activity is running', async () => {
    const t0 = Date.now();
    const winner = await env.client.workflow.execute(activityVersusTimer, {
      taskQueue,
      workflowId: wid('race'),
      args: [60 * 60 * 1000],
    });
    expect(winner).toBe('activity');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
  });
});

describe('normal server (createLocal)', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: SERVER_BIN } },
    });
  });

  afterAll(async () => {
    await env?.teardown();
  });

  it('does not skip time: timers take wall time and the TestService is not served', async () => {
    const taskQueue = `noskip-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities,
    });
    await worker.runUntil(async () => {
      const idle = await env.client.workflow.start(sleeper, {
        taskQueue,
        workflowId: `noskip-${randomUUID()}`,
        args: [DAY],
      });
      const t0 = Date.now();
      const elapsed = await env.client.workflow.execute(measuredSleep, {
        taskQueue,
        workflowId: `noskip-${randomUUID()}`,
        args: [1000],
      });
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      expect(elapsed).toBeLessThan(10_000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      expect((await idle.describe()).status.name).toBe('RUNNING');
      await idle.terminate('done');
    });

    const conn = await Connection.connect({
      address: env.address,
      [InternalConnectionOptionsSymbol]: { supportsTestService: true },
    } as any);
    try {
      await expect(conn.testService!.getCurrentTime({})).rejects.toMatchObject({ code: 12 });
    } finally {
      await conn.close();
    }
  });
});

describe('test-server command line', () => {
  it('a bare port selects test-server mode, locked until a client unlocks; the flag unlocks it', () => {
    expect(parseArgs(['7233'])).toMatchObject({ port: 7233, testServer: true, timeSkipping: false });
    expect(parseArgs(['7233', '--enable-time-skipping'])).toMatchObject({ testServer: true, timeSkipping: true });
    expect(parseArgs(['--port', '7233'])).toMatchObject({ testServer: false, timeSkipping: false });
    expect(parseArgs(['server', 'start-dev', '--port', '7233'])).toMatchObject({ testServer: false });
  });

  it('--enable-time-skipping skips on its own, without TestService calls', async () => {
    const server = await startServer({ args: ['--enable-time-skipping'] });
    try {
      const ctx = await createTestContext({ address: server.address, activities });
      try {
        const t0 = Date.now();
        const elapsed = await ctx.client.workflow.execute(measuredSleep, {
          taskQueue: ctx.taskQueue,
          workflowId: `selfskip-${randomUUID()}`,
          args: [10 * DAY],
        });
        expect(elapsed).toBeGreaterThanOrEqual(10 * DAY);
        expect(Date.now() - t0).toBeLessThan(5_000);
      } finally {
        await ctx.close();
      }
    } finally {
      await server.stop();
    }
  });
});
