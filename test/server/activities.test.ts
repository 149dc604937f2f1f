// Activities against longhaul-server: completion, retries, timeouts, heartbeats and cancellation.
import { Context, CancelledFailure as ActivityCancelledFailure } from '@temporalio/activity';
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ActivityCancellationType, RetryState, TimeoutType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { cancelActivitySignal, cancelActivityWorkflow, runActivity } from '../workflows';

const attempts = new Map<string, number[]>();
const attemptTimes = new Map<string, number[]>();
function recordAttempt(key: string): number {
  const attempt = Context.current().info.attempt;
  attempts.set(key, [...(attempts.get(key) ?? []), attempt]);
  attemptTimes.set(key, [...(attemptTimes.get(key) ?? []), Date.now()]);
  return attempt;
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface CancelRecord {
  started: boolean;
  outcome?: 'completed' | 'cancelled';
  cancelledAt?: number;
  cleanedUpAt?: number;
}
const cancelRecords = new Map<string, CancelRecord>();

const activities = {
  async echo(s: string): Promise<string> {
    return `echo:${s}`;
  },
  /** Fails `failTimes` times with a retryable error, then returns the attempt number. */
  async flaky(key: string, failTimes: number): Promise<number> {
    const attempt = recordAttempt(key);
    if (attempt <= failTimes) throw ApplicationFailure.retryable(`flaky attempt ${attempt}`, 'FlakyError');
    return attempt;
  },
  async alwaysFail(key: string): Promise<never> {
    const attempt = recordAttempt(key);
    throw ApplicationFailure.retryable(`boom attempt ${attempt}`, 'BoomError');
  },
  async failNonRetryable(key: string): Promise<never> {
    recordAttempt(key);
    throw ApplicationFailure.nonRetryable('fatal', 'FatalError');
  },
  async failWithType(key: string, type: string): Promise<never> {
    recordAttempt(key);
    throw ApplicationFailure.retryable(`typed ${type}`, type);
  },
  /** Attempt 1 heartbeats `details` and fails; later attempts return what they were handed. */
  async heartbeatThenFail(key: string, details: unknown): Promise<{ attempt: number; details: unknown }> {
    const ctx = Context.current();
    const attempt = recordAttempt(key);
    if (attempt === 1) {
      ctx.heartbeat(details);
      await sleepMs(500); // let the heartbeat reach the server before failing
      throw ApplicationFailure.retryable('failing after heartbeat', 'HeartbeatThenFail');
    }
    return { attempt, details: ctx.info.heartbeatDetails };
  },
  /** Ignores cancellation and just blocks (so only the server can time it out). */
  async hang(key: string, ms: number): Promise<string> {
    recordAttempt(key);
    await sleepMs(ms);
    return 'finished hanging';
  },
  /** Attempt 1 blocks for `ms` (ignoring cancellation); later attempts return their attempt number at once. */
  async slowFirstAttempt(key: string, ms: number): Promise<number> {
    const attempt = recordAttempt(key);
    if (attempt === 1) await sleepMs(ms);
    return attempt;
  },
  async heartbeatOnceThenHang(key: string, ms: number): Promise<string> {
    recordAttempt(key);
    Context.current().heartbeat('only once');
    await sleepMs(ms);
    return 'finished hanging';
  },
  /** Heartbeats every 100ms for up to runMs; on cancellation spends cleanupMs cleaning up, then rethrows. */
  async heartbeatUntilCancelled(key: string, runMs: number, cleanupMs: number): Promise<string> {
    const ctx = Context.current();
    const rec: CancelRecord = { started: true };
    cancelRecords.set(key, rec);
    const start = Date.now();
    try {
      while (Date.now() - start < runMs) {
        ctx.heartbeat();
        await ctx.sleep(100);
      }
      rec.outcome = 'completed';
      return 'completed';
    } catch (err) {
      if (err instanceof ActivityCancelledFailure) {
        rec.outcome = 'cancelled';
        rec.cancelledAt = Date.now();
        await sleepMs(cleanupMs);
        rec.cleanedUpAt = Date.now();
      }
      throw err;
    }
  },
};

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ activities });
});

afterAll(async () => {
  await ctx?.close();
});

function start(name: keyof typeof activities, args: unknown[], options: Parameters<typeof runActivity>[2]) {
  return ctx.client.workflow.start(runActivity, {
    taskQueue: ctx.taskQueue,
    workflowId: `act-${name}-${randomUUID()}`,
    args: [name, args, options],
  });
}

async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''));
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleepMs(25);
  }
}

describe('activities', () => {
  it('completes an activity and returns its result', async () => {
    const handle = await start('echo', ['hi'], { startToCloseTimeout: '10s' });
    expect(await handle.result()).toBe('echo:hi');
    const types = await eventTypes(handle);
    expect(types).toContain('ACTIVITY_TASK_SCHEDULED');
    expect(types).toContain('ACTIVITY_TASK_STARTED');
    expect(types).toContain('ACTIVITY_TASK_COMPLETED');
    expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_COMPLETED');
  });

  it('retries a failing activity until it succeeds', async () => {
    const key = randomUUID();
    const handle = await start('flaky', [key, 2], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 5 },
    });
    expect(await handle.result()).toBe(3);
    expect(attempts.get(key)).toEqual([1, 2, 3]);
    const types = await eventTypes(handle);
    // Retries are not recorded in history: one schedule, one start, one completion.
    expect(types.filter((t) => t === 'ACTIVITY_TASK_SCHEDULED')).toHaveLength(1);
    expect(types.filter((t) => t === 'ACTIVITY_TASK_STARTED')).toHaveLength(1);
    expect(types.filter((t) => t === 'ACTIVITY_TASK_COMPLETED')).toHaveLength(1);
    expect(types).not.toContain('ACTIVITY_TASK_FAILED');
    const history = await handle.fetchHistory();
    const startedEvent = history.events!.find((e) => e.activityTaskStartedEventAttributes)!;
    expect(startedEvent.activityTaskStartedEventAttributes!.attempt).toBe(3);
  });

  it('waits the retry policy backoff between attempts', async () => {
    const key = randomUUID();
    const handle = await start('flaky', [key, 2], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: '400ms', backoffCoefficient: 2, maximumAttempts: 5 },
    });
    expect(await handle.result()).toBe(3);
    const [t1, t2, t3] = attemptTimes.get(key)!;
    // Attempt 2 comes >= 400ms after attempt 1 failed, attempt 3 >= 800ms after attempt 2.
    expect(t2 - t1).toBeGreaterThanOrEqual(400);
    expect(t3 - t2).toBeGreaterThanOrEqual(800);
    expect(t3 - t2).toBeLessThan(5000);
  });

  it('does not retry ApplicationFailure.nonRetryable and fails the workflow with it', async () => {
    const key = randomUUID();
    const handle = await start('failNonRetryable', [key], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: '100ms', maximumAttempts: 5 },
    });
    const err = await failureOf(handle);
    expect(err.cause).toBeInstanceOf(ActivityFailure);
    const actFailure = err.cause as ActivityFailure;
    expect(actFailure.activityType).toBe('failNonRetryable');
    expect(actFailure.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    expect(actFailure.cause).toBeInstanceOf(ApplicationFailure);
    expect((actFailure.cause as ApplicationFailure).type).toBe('FatalError');
    expect((actFailure.cause as ApplicationFailure).message).toBe('fatal');
    expect((actFailure.cause as ApplicationFailure).nonRetryable).toBe(true);
    expect(attempts.get(key)).toEqual([1]);
    expect(await eventTypes(handle)).toContain('ACTIVITY_TASK_FAILED');
  });

  it('does not retry error types listed in retry.nonRetryableErrorTypes', async () => {
    const key = randomUUID();
    const handle = await start('failWithType', [key, 'DoNotRetry'], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: '100ms', maximumAttempts: 5, nonRetryableErrorTypes: ['DoNotRetry'] },
    });
    const err = await failureOf(handle);
    const actFailure = err.cause as ActivityFailure;
    expect(actFailure).toBeInstanceOf(ActivityFailure);
    expect(actFailure.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    expect(actFailure.cause).toBeInstanceOf(ApplicationFailure);
    expect((actFailure.cause as ApplicationFailure).type).toBe('DoNotRetry');
    expect(attempts.get(key)).toEqual([1]);
  });

  it('fails with the last failure once maximumAttempts is exhausted', async () => {
    const key = randomUUID();
    const handle = await start('alwaysFail', [key], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
    });
    const err = await failureOf(handle);
    const actFailure = err.cause as ActivityFailure;
    expect(actFailure).toBeInstanceOf(ActivityFailure);
    expect(actFailure.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
    expect(actFailure.cause).toBeInstanceOf(ApplicationFailure);
    expect((actFailure.cause as ApplicationFailure).type).toBe('BoomError');
    expect((actFailure.cause as ApplicationFailure).message).toBe('boom attempt 3');
    expect(attempts.get(key)).toEqual([1, 2, 3]);
    const types = await eventTypes(handle);
    expect(types.filter((t) => t === 'ACTIVITY_TASK_FAILED')).toHaveLength(1);
    expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_FAILED');
  });

  it('hands the last heartbeat details to the next attempt', async () => {
    const key = randomUUID();
    const details = { progress: 42, note: 'half way' };
    const handle = await start('heartbeatThenFail', [key, details], {
      startToCloseTimeout: '10s',
      heartbeatTimeout: '5s',
      retry: { initialInterval: '100ms', maximumAttempts: 3 },
    });
    expect(await handle.result()).toEqual({ attempt: 2, details });
    expect(attempts.get(key)).toEqual([1, 2]);
  });

  it('times out an attempt after startToCloseTimeout', async () => {
    const key = randomUUID();
    const t0 = Date.now();
    const handle = await start('hang', [key, 4000], {
      startToCloseTimeout: '1s',
      retry: { maximumAttempts: 1 },
    });
    const err = await failureOf(handle);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const actFailure = err.cause as ActivityFailure;
    expect(actFailure).toBeInstanceOf(ActivityFailure);
    expect(actFailure.cause).toBeInstanceOf(TimeoutFailure);
    expect((actFailure.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.START_TO_CLOSE);
    expect(attempts.get(key)).toEqual([1]);
    expect(await eventTypes(handle)).toContain('ACTIVITY_TASK_TIMED_OUT');
  });

  it('retries an attempt that hit startToCloseTimeout and then succeeds', async () => {
    const key = randomUUID();
    const handle = await start('slowFirstAttempt', [key, 3000], {
      startToCloseTimeout: '1s',
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
    });
    expect(await handle.result()).toBe(2);
    expect(attempts.get(key)).toEqual([1, 2]);
    const types = await eventTypes(handle);
    expect(types).not.toContain('ACTIVITY_TASK_TIMED_OUT');
    expect(types.filter((t) => t === 'ACTIVITY_TASK_COMPLETED')).toHaveLength(1);
  });

  it('times out an activity that stops heartbeating after heartbeatTimeout', async () => {
    const key = randomUUID();
    const t0 = Date.now();
    const handle = await start('heartbeatOnceThenHang', [key, 5000], {
      startToCloseTimeout: '15s',
      heartbeatTimeout: '1s',
      retry: { maximumAttempts: 1 },
    });
    const err = await failureOf(handle);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(5000);
    const actFailure = err.cause as ActivityFailure;
    expect(actFailure).toBeInstanceOf(ActivityFailure);
    expect(actFailure.cause).toBeInstanceOf(TimeoutFailure);
    expect((actFailure.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.HEARTBEAT);
    expect(attempts.get(key)).toEqual([1]);
  });

  it('times out the whole activity after scheduleToCloseTimeout across retries', async () => {
    const key = randomUUID();
    const t0 = Date.now();
    // Attempt 1 hits startToClose at ~1s and is retried; scheduleToClose fires at ~1.6s during attempt 2.
    const handle = await start('hang', [key, 3000], {
      startToCloseTimeout: '1s',
      scheduleToCloseTimeout: '1600ms',
      retry: { initialInterval: '100ms', backoffCoefficient: 1 },
    });
    const err = await failureOf(handle);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1600);
    expect(elapsed).toBeLessThan(3000);
    const actFailure = err.cause as ActivityFailure;
    expect(actFailure).toBeInstanceOf(ActivityFailure);
    expect(actFailure.cause).toBeInstanceOf(TimeoutFailure);
    expect((actFailure.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.SCHEDULE_TO_CLOSE);
    expect(attempts.get(key)).toEqual([1, 2]);
  });

  describe('cancellation via CancellationScope', () => {
    async function startCancel(
      cancellationType: ActivityCancellationType,
      runMs: number,
      cleanupMs: number,
      lingerMs: number,
    ): Promise<{ key: string; handle: WorkflowHandle<typeof cancelActivityWorkflow> }> {
      const key = randomUUID();
      const handle = await ctx.client.workflow.start(cancelActivityWorkflow, {
        taskQueue: ctx.taskQueue,
        workflowId: `act-cancel-${cancellationType}-${key}`,
        args: [key, cancellationType, runMs, cleanupMs, lingerMs],
      });
      await waitFor('activity to start', () => cancelRecords.get(key)?.started === true);
      await handle.signal(cancelActivitySignal);
      return { key, handle };
    }

    it('WAIT_CANCELLATION_COMPLETED: activity observes cancellation and the workflow waits for it', async () => {
      const { key, handle } = await startCancel(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED, 15_000, 1000, 0);
      expect(await handle.result()).toBe('cancelled');
      const rec = cancelRecords.get(key)!;
      expect(rec.outcome).toBe('cancelled');
      expect(rec.cleanedUpAt).toBeDefined();
      const desc = await handle.describe();
      // The workflow could only complete after the activity reported its cancellation (after cleanup).
      expect(desc.closeTime!.getTime()).toBeGreaterThanOrEqual(rec.cleanedUpAt! - 5);
      const types = await eventTypes(handle);
      const requested = types.indexOf('ACTIVITY_TASK_CANCEL_REQUESTED');
      const canceled = types.indexOf('ACTIVITY_TASK_CANCELED');
      expect(requested).toBeGreaterThan(-1);
      expect(canceled).toBeGreaterThan(requested);
      expect(types.indexOf('WORKFLOW_EXECUTION_COMPLETED')).toBeGreaterThan(canceled);
    });

    it('TRY_CANCEL: workflow proceeds at once while the activity still observes cancellation', async () => {
      const { key, handle } = await startCancel(ActivityCancellationType.TRY_CANCEL, 15_000, 1500, 0);
      expect(await handle.result()).toBe('cancelled');
      const closeTime = (await handle.describe()).closeTime!.getTime();
      await waitFor('activity to observe cancellation', () => cancelRecords.get(key)?.cleanedUpAt !== undefined);
      const rec = cancelRecords.get(key)!;
      expect(rec.outcome).toBe('cancelled');
      // The workflow did not wait for the activity's 1.5s cleanup.
      expect(closeTime).toBeLessThan(rec.cleanedUpAt!);
      const types = await eventTypes(handle);
      expect(types).toContain('ACTIVITY_TASK_CANCEL_REQUESTED');
      expect(types.indexOf('WORKFLOW_EXECUTION_COMPLETED')).toBeGreaterThan(
        types.indexOf('ACTIVITY_TASK_CANCEL_REQUESTED'),
      );
    });

    it('ABANDON: no cancel request reaches the server and the activity runs to completion', async () => {
      const { key, handle } = await startCancel(ActivityCancellationType.ABANDON, 2500, 0, 3500);
      expect(await handle.result()).toBe('cancelled');
      const rec = cancelRecords.get(key)!;
      expect(rec.outcome).toBe('completed');
      expect(rec.cancelledAt).toBeUndefined();
      const types = await eventTypes(handle);
      expect(types).not.toContain('ACTIVITY_TASK_CANCEL_REQUESTED');
      expect(types).not.toContain('ACTIVITY_TASK_CANCELED');
    });
  });
});
