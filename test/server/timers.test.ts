// Durable timers against longhaul-server: sleep, cancelled timers, condition with timeout.
import { type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { cancelledTimer, conditionWithTimeout, measuredSleep, sleeper, unblockSignal } from '../workflows';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  await ctx?.close();
});

async function history(handle: WorkflowHandle) {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.map((e) => ({
    type: temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''),
    time: Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6),
    event: e,
  }));
}

const opts = () => ({ taskQueue: ctx.taskQueue, workflowId: `timer-${randomUUID()}` });

describe('timers', () => {
  it('a sleep does not fire before its duration', async () => {
    const t0 = Date.now();
    const handle = await ctx.client.workflow.start(sleeper, { ...opts(), args: [1500] });
    expect(await handle.result()).toBe('slept');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);

    const events = await history(handle);
    const started = events.filter((e) => e.type === 'TIMER_STARTED');
    const fired = events.filter((e) => e.type === 'TIMER_FIRED');
    expect(started).toHaveLength(1);
    expect(fired).toHaveLength(1);
    const timerId = started[0].event.timerStartedEventAttributes!.timerId;
    expect(fired[0].event.timerFiredEventAttributes!.timerId).toBe(timerId);
    expect(Number(fired[0].event.timerFiredEventAttributes!.startedEventId)).toBe(Number(started[0].event.eventId));
    const timeout = started[0].event.timerStartedEventAttributes!.startToFireTimeout!;
    expect(Number(timeout.seconds) * 1000 + Math.round((timeout.nanos ?? 0) / 1e6)).toBe(1500);
    expect(fired[0].time - started[0].time).toBeGreaterThanOrEqual(1500);
  });

  it('workflow time advances by at least the slept duration', async () => {
    const elapsed = await ctx.client.workflow.execute(measuredSleep, { ...opts(), args: [1000] });
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('several concurrent workflows each wait for their own timer', async () => {
    const t0 = Date.now();
    const durations = [300, 900, 600, 1200];
    const handles = await Promise.all(
      durations.map((ms) => ctx.client.workflow.start(measuredSleep, { ...opts(), args: [ms] })),
    );
    const results = await Promise.all(handles.map((h) => h.result()));
    results.forEach((elapsed, i) => expect(elapsed).toBeGreaterThanOrEqual(durations[i]));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
  });

  it('a timer cancelled via CancellationScope does not fire', async () => {
    const t0 = Date.now();
    const handle = await ctx.client.workflow.start(cancelledTimer, opts());
    expect(await handle.result()).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const types = (await history(handle)).map((e) => e.type);
    expect(types.filter((t) => t === 'TIMER_STARTED')).toHaveLength(2);
    expect(types.filter((t) => t === 'TIMER_FIRED')).toHaveLength(1);
    expect(types.filter((t) => t === 'TIMER_CANCELED')).toHaveLength(1);
    expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_COMPLETED');
  });

  it('condition with timeout returns false when the timeout elapses first', async () => {
    const t0 = Date.now();
    const handle = await ctx.client.workflow.start(conditionWithTimeout, { ...opts(), args: [800] });
    expect(await handle.result()).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    const types = (await history(handle)).map((e) => e.type);
    expect(types).toContain('TIMER_FIRED');
  });

  it('condition with timeout returns true when unblocked before the timeout', async () => {
    const t0 = Date.now();
    const handle = await ctx.client.workflow.start(conditionWithTimeout, { ...opts(), args: [30_000] });
    await handle.signal(unblockSignal);
    expect(await handle.result()).toBe(true);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const types = (await history(handle)).map((e) => e.type);
    expect(types).toContain('WORKFLOW_EXECUTION_SIGNALED');
    expect(types).not.toContain('TIMER_FIRED');
  });
});
