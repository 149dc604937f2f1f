// Commands that meet events buffered while their workflow task ran. A timer that fired during the task that
// cancels it: the history must say canceled (the buffered TimerFired is dropped), or a replay of it fails.
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useTestContext, workflowBundle } from '../helpers/env';
import { activityRacesSlowTask, goSignal, timerRacesSlowTask } from '../workflows';

const T = temporal.api.enums.v1.EventType;

describe('events buffered during a workflow task', () => {
  const ctx = useTestContext({
    activities: {
      slowLocal: (ms: number) => delay(ms),
      slowEcho: async (s: string) => (await delay(300), s),
    },
  });

  it('a timer canceled by the task its firing raced is recorded canceled, and the history replays', async () => {
    const handle = await ctx.client.workflow.start(timerRacesSlowTask, {
      taskQueue: ctx.taskQueue,
      workflowId: `race-${randomUUID()}`,
    });
    // Signal once the timer is running, so it fires during the 1 s task the signal starts.
    for (;;) {
      const h = await handle.fetchHistory();
      if (h.events!.some((e) => e.eventType === T.EVENT_TYPE_TIMER_STARTED)) break;
      await delay(20);
    }
    await handle.signal(goSignal);
    const result = await handle.result();
    const history = await handle.fetchHistory();
    expect(result).toBe('cancelled');
    const types = history.events!.map((e) => e.eventType);
    expect(types).toContain(T.EVENT_TYPE_TIMER_CANCELED);
    expect(types).not.toContain(T.EVENT_TYPE_TIMER_FIRED);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history);
  });

  it('cancelling an activity whose result arrived during the task records the request; the result is delivered', async () => {
    const handle = await ctx.client.workflow.start(activityRacesSlowTask, {
      taskQueue: ctx.taskQueue,
      workflowId: `race-act-${randomUUID()}`,
    });
    for (;;) {
      const h = await handle.fetchHistory();
      if (h.events!.some((e) => e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)) break;
      await delay(20);
    }
    await handle.signal(goSignal);
    expect(await handle.result()).toBe('done');
    const history = await handle.fetchHistory();
    const types = history.events!.map((e) => e.eventType);
    expect(types.indexOf(T.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED)).toBeGreaterThan(0);
    expect(types.indexOf(T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)).toBeGreaterThan(
      types.indexOf(T.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED),
    );
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history);
  });
});
