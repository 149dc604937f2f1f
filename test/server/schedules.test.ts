// Temporal Schedules through @temporalio/client: interval and cron specs, describe, pause/unpause,
// trigger, update, list, delete, overlap policies, remaining actions, matching times, bad input.
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleHandle } from '@temporalio/client';
import * as grpc from '@grpc/grpc-js';
import Long from 'long';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { cronCounter, scheduledHello, scheduledSleep } from '../workflows';

let ctx: TestContext;
const handles: ScheduleHandle[] = [];
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  for (const h of handles) await h.delete().catch(() => undefined);
  await ctx?.close();
});

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await sleepMs(100);
  }
}

async function createInterval(
  everyMs: number,
  opts: { overlap?: ScheduleOverlapPolicy; sleep?: number; paused?: boolean; remainingActions?: number } = {},
): Promise<{ handle: ScheduleHandle; scheduleId: string; workflowId: string }> {
  const scheduleId = `sched-${randomUUID()}`;
  const workflowId = `wf-${scheduleId}`;
  const action: any =
    opts.sleep !== undefined
      ? {
          type: 'startWorkflow' as const,
          workflowType: scheduledSleep,
          args: [opts.sleep] as [number],
          taskQueue: ctx.taskQueue,
          workflowId,
        }
      : {
          type: 'startWorkflow' as const,
          workflowType: scheduledHello,
          args: ['sched'] as [string],
          taskQueue: ctx.taskQueue,
          workflowId,
        };
  const handle = await ctx.client.schedule.create({
    scheduleId,
    spec: { intervals: [{ every: everyMs }] },
    action,
    policies: opts.overlap ? { overlap: opts.overlap } : undefined,
    state: { paused: opts.paused, remainingActions: opts.remainingActions },
    memo: { owner: 'tests' },
  });
  handles.push(handle);
  return { handle, scheduleId, workflowId };
}

describe('schedules', () => {
  it('an interval schedule starts workflows; describe, pause, unpause, trigger, update, list, delete', async () => {
    const { handle, scheduleId, workflowId } = await createInterval(1000);

    // At least two runs within about three seconds.
    let desc = await waitFor(
      () => handle.describe(),
      (d) => d.info.numActionsTaken >= 2,
      4000,
    );
    expect(desc.info.numActionsTaken).toBeGreaterThanOrEqual(2);
    expect(desc.info.recentActions.length).toBeGreaterThanOrEqual(2);
    const first = desc.info.recentActions[0];
    const nominal = first.scheduledAt.toISOString().replace('.000Z', 'Z');
    expect(first.action.workflow.workflowId).toBe(`${workflowId}-${nominal}`);
    expect(first.scheduledAt.getTime() % 1000).toBe(0);
    expect(first.takenAt.getTime()).toBeGreaterThanOrEqual(first.scheduledAt.getTime());
    const result = await ctx.client.workflow.getHandle(first.action.workflow.workflowId).result();
    expect(result).toBe(`hello sched from ${first.action.workflow.workflowId}`);
    expect(desc.spec.intervals).toEqual([{ every: 1000 }]);
    expect(desc.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(desc.policies.catchupWindow).toBe(365 * 24 * 3600 * 1000);
    expect(desc.memo).toEqual({ owner: 'tests' });
    expect(desc.info.nextActionTimes.length).toBe(10);
    expect(desc.info.nextActionTimes[1].getTime() - desc.info.nextActionTimes[0].getTime()).toBe(1000);
    expect(desc.action.type).toBe('startWorkflow');
    expect(desc.action.workflowType).toBe('scheduledHello');
    expect(desc.action.args).toEqual(['sched']);

    // Pause: no more actions.
    await handle.pause('maintenance');
    desc = await handle.describe();
    expect(desc.state.paused).toBe(true);
    expect(desc.state.note).toBe('maintenance');
    const pausedCount = desc.info.numActionsTaken;
    await sleepMs(2200);
    expect((await handle.describe()).info.numActionsTaken).toBe(pausedCount);

    // Trigger runs at once, even while paused.
    await handle.trigger();
    desc = await handle.describe();
    expect(desc.info.numActionsTaken).toBe(pausedCount + 1);

    // Unpause: actions resume.
    await handle.unpause('back');
    desc = await waitFor(
      () => handle.describe(),
      (d) => d.info.numActionsTaken >= pausedCount + 2,
      4000,
    );
    expect(desc.state.paused).toBe(false);
    expect(desc.state.note).toBe('back');
    expect(desc.info.numActionsTaken).toBeGreaterThanOrEqual(pausedCount + 2);

    // List finds it.
    const listed = [];
    for await (const s of ctx.client.schedule.list()) if (s.scheduleId === scheduleId) listed.push(s);
    expect(listed).toHaveLength(1);
    expect(listed[0].memo).toEqual({ owner: 'tests' });
    expect(listed[0].action?.workflowType).toBe('scheduledHello');
    expect(listed[0].spec!.intervals).toEqual([{ every: 1000 }]);
    const paused = await ctx.client.workflowService.countSchedules({
      namespace: 'default',
      query: `ScheduleId = '${scheduleId}' AND TemporalSchedulePaused = false`,
    });
    expect(Number(paused.count)).toBe(1);

    // Update the spec: hourly from now on.
    await handle.update((prev) => ({ ...prev, spec: { intervals: [{ every: '1h', offset: '5m' }] } }));
    desc = await handle.describe();
    expect(desc.spec.intervals).toEqual([{ every: 3_600_000, offset: 300_000 }]);
    expect(desc.info.lastUpdatedAt).toBeInstanceOf(Date);
    const next = desc.info.nextActionTimes.map((d) => d.getTime());
    expect(next[0] % 3_600_000).toBe(300_000);
    expect(next[1] - next[0]).toBe(3_600_000);
    const afterUpdate = desc.info.numActionsTaken;
    await sleepMs(1500);
    expect((await handle.describe()).info.numActionsTaken).toBe(afterUpdate);

    // Delete.
    await handle.delete();
    await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    for await (const s of ctx.client.schedule.list()) expect(s.scheduleId).not.toBe(scheduleId);
  });

  it('overlap SKIP does not start a second run while one is running', async () => {
    const { handle } = await createInterval(1000, { overlap: ScheduleOverlapPolicy.SKIP, sleep: 30_000 });
    const desc = await waitFor(
      () => handle.describe(),
      (d) => d.info.numActionsSkippedOverlap >= 2,
      5000,
    );
    expect(desc.info.numActionsTaken).toBe(1);
    expect(desc.info.numActionsSkippedOverlap).toBeGreaterThanOrEqual(2);
    expect(desc.info.runningActions).toHaveLength(1);
    await handle.delete();
    await ctx.client.workflow.getHandle(desc.info.runningActions[0].workflow.workflowId).terminate('test done');
  });

  it('overlap BUFFER_ONE starts one buffered run when the running one closes', async () => {
    // Runs take 2.5s: of the two action times during the first run, one is buffered, one skipped.
    const { handle } = await createInterval(1000, { overlap: ScheduleOverlapPolicy.BUFFER_ONE, sleep: 2500 });
    const desc = await waitFor(
      () => handle.describe(),
      (d) => d.info.numActionsTaken >= 2,
      6000,
    );
    await handle.pause();
    expect(desc.info.numActionsTaken).toBeGreaterThanOrEqual(2);
    // The second run started only after the first closed.
    const [a, b] = desc.info.recentActions;
    const firstResult = ctx.client.workflow.getHandle(a.action.workflow.workflowId);
    const closed = (await firstResult.describe()).closeTime!;
    expect(b.takenAt.getTime()).toBeGreaterThanOrEqual(closed.getTime());
    expect(desc.info.numActionsSkippedOverlap).toBeGreaterThanOrEqual(1);
  });

  it('overlap TERMINATE_OTHER terminates the running workflow for the next one', async () => {
    const { handle } = await createInterval(1000, { overlap: ScheduleOverlapPolicy.TERMINATE_OTHER, sleep: 30_000 });
    const desc = await waitFor(
      () => handle.describe(),
      (d) => d.info.numActionsTaken >= 2,
      5000,
    );
    await handle.pause();
    const firstId = desc.info.recentActions[0].action.workflow.workflowId;
    const first = await ctx.client.workflow.getHandle(firstId).describe();
    expect(first.status.name).toBe('TERMINATED');
    for (const r of (await handle.describe()).info.runningActions) {
      await ctx.client.workflow.getHandle(r.workflow.workflowId).terminate('test done');
    }
  });

  it('hands each scheduled run the result of the previous one', async () => {
    const scheduleId = `sched-${randomUUID()}`;
    const handle = await ctx.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: 1000 }] },
      action: {
        type: 'startWorkflow',
        workflowType: cronCounter,
        args: [],
        taskQueue: ctx.taskQueue,
        workflowId: `wf-${scheduleId}`,
      },
      state: { remainingActions: 3 },
    });
    handles.push(handle);
    const desc = await waitFor(
      () => handle.describe(),
      (d) => d.info.recentActions.length === 3 && d.info.runningActions.length === 0,
    );
    const results = [];
    for (const a of desc.info.recentActions) {
      const h = ctx.client.workflow.getHandle(a.action.workflow.workflowId, a.action.workflow.firstExecutionRunId);
      results.push(await h.result());
    }
    expect(results).toEqual([1, 2, 3]);
  });

  it('remaining actions limit the number of scheduled runs', async () => {
    const { handle } = await createInterval(1000, { remainingActions: 2 });
    await sleepMs(3500);
    const desc = await handle.describe();
    expect(desc.info.numActionsTaken).toBe(2);
    expect(desc.state.remainingActions).toBe(0);
    expect(desc.info.nextActionTimes).toEqual([]);
  });

  it('ListScheduleMatchingTimes follows a cron spec; cron strings are described as calendars', async () => {
    const scheduleId = `sched-cron-${randomUUID()}`;
    const handle = await ctx.client.schedule.create({
      scheduleId,
      spec: { cronExpressions: ['0 12 * * MON-FRI'] },
      action: { type: 'startWorkflow', workflowType: scheduledHello, args: ['cron'], taskQueue: ctx.taskQueue },
      state: { paused: true },
    });
    handles.push(handle);
    const res = await ctx.client.workflowService.listScheduleMatchingTimes({
      namespace: 'default',
      scheduleId,
      startTime: { seconds: Long.fromNumber(Date.parse('2024-01-01T00:00:00Z') / 1000) },
      endTime: { seconds: Long.fromNumber(Date.parse('2024-01-08T00:00:00Z') / 1000) },
    });
    const times = (res.startTime ?? []).map((t) => new Date(Number(t.seconds) * 1000).toISOString());
    expect(times).toEqual([
      '2024-01-01T12:00:00.000Z',
      '2024-01-02T12:00:00.000Z',
      '2024-01-03T12:00:00.000Z',
      '2024-01-04T12:00:00.000Z',
      '2024-01-05T12:00:00.000Z',
    ]);
    const desc = await handle.describe();
    expect(desc.spec.calendars).toHaveLength(1);
    expect(desc.spec.calendars![0].hour).toEqual([{ start: 12, end: 12, step: 1 }]);
    expect(desc.spec.calendars![0].dayOfWeek).toEqual([{ start: 'MONDAY', end: 'FRIDAY', step: 1 }]);
    for (const t of desc.info.nextActionTimes) {
      expect(t.getUTCHours()).toBe(12);
      expect([1, 2, 3, 4, 5]).toContain(t.getUTCDay());
    }
    expect(desc.info.numActionsTaken).toBe(0);
  });

  it('structured calendars and backfill', async () => {
    const scheduleId = `sched-cal-${randomUUID()}`;
    const handle = await ctx.client.schedule.create({
      scheduleId,
      spec: { calendars: [{ hour: 3, minute: 30, dayOfMonth: 1 }] },
      action: { type: 'startWorkflow', workflowType: scheduledHello, args: ['cal'], taskQueue: ctx.taskQueue },
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
    });
    handles.push(handle);
    const desc = await handle.describe();
    for (const t of desc.info.nextActionTimes) {
      expect([t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()]).toEqual([1, 3, 30, 0]);
    }
    await handle.backfill({ start: new Date('2024-01-01T00:00:00Z'), end: new Date('2024-03-31T00:00:00Z') });
    const after = await handle.describe();
    expect(after.info.numActionsTaken).toBe(3);
    expect(after.info.recentActions.map((a) => a.action.workflow.workflowId)).toEqual([
      `${scheduleId}-workflow-2024-01-01T03:30:00Z`,
      `${scheduleId}-workflow-2024-02-01T03:30:00Z`,
      `${scheduleId}-workflow-2024-03-01T03:30:00Z`,
    ]);
  });

  it('rejects bad input with INVALID_ARGUMENT', async () => {
    const action = {
      type: 'startWorkflow' as const,
      workflowType: scheduledHello,
      args: ['x'] as [string],
      taskQueue: ctx.taskQueue,
    };
    // The client turns "Invalid schedule spec" INVALID_ARGUMENT errors into TypeErrors.
    await expect(
      ctx.client.schedule.create({
        scheduleId: `bad-${randomUUID()}`,
        spec: { cronExpressions: ['not a cron'] },
        action,
      }),
    ).rejects.toThrow(TypeError);
    await expect(
      ctx.client.schedule.create({
        scheduleId: `bad-${randomUUID()}`,
        spec: { cronExpressions: ['61 * * * *'] },
        action,
      }),
    ).rejects.toThrow(/Minute/);
    for (const spec of [{ cronString: ['* * *'] }, { interval: [{ interval: { nanos: 1000 } }] }]) {
      const err = await ctx.client.workflowService
        .createSchedule({
          namespace: 'default',
          scheduleId: `bad-${randomUUID()}`,
          requestId: randomUUID(),
          schedule: {
            spec,
            action: {
              startWorkflow: {
                workflowId: 'x',
                workflowType: { name: 'scheduledHello' },
                taskQueue: { name: ctx.taskQueue },
              },
            },
          },
        })
        .then(
          () => null,
          (e) => e,
        );
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    const missing = await ctx.client.workflowService
      .describeSchedule({ namespace: 'default', scheduleId: `missing-${randomUUID()}` })
      .then(
        () => null,
        (e) => e,
      );
    expect(missing?.code).toBe(grpc.status.NOT_FOUND);
  });

  it('creating an existing schedule id fails', async () => {
    const { scheduleId } = await createInterval(3_600_000, { paused: true });
    await expect(
      ctx.client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: '1h' }] },
        action: { type: 'startWorkflow', workflowType: scheduledHello, args: ['x'], taskQueue: ctx.taskQueue },
      }),
    ).rejects.toThrow(/already/);
  });
});
