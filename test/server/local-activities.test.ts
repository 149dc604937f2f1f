// Local activities (marker events) and workflow task heartbeats of a local activity that runs longer
// than the workflow task timeout; patching markers.
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestContext } from '../helpers/env';
import { localActivities, longLocalActivity, phaseQuery } from '../workflows';

const EventType = temporal.api.enums.v1.EventType;
const ctx = useTestContext({
  activities: {
    double: async (n: number) => n * 2,
    slowDouble: async (n: number, ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return n * 2;
    },
  },
});

describe('local activities', () => {
  it('records local activity and patch markers', async () => {
    const handle = await ctx.client.workflow.start(localActivities, {
      taskQueue: ctx.taskQueue,
      workflowId: `la-${randomUUID()}`,
      args: [5],
    });
    expect(await handle.result()).toBe(21);
    const events = (await handle.fetchHistory()).events!;
    const markers = events.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED);
    expect(markers.map((m) => m.markerRecordedEventAttributes!.markerName).sort()).toEqual([
      'core_local_activity',
      'core_local_activity',
      'core_patch',
    ]);
    // patched() records the patch in the predefined TemporalChangeVersion attribute, which is queryable.
    const found = await ctx.client.workflow.count(
      `WorkflowId = '${handle.workflowId}' AND TemporalChangeVersion = 'v2'`,
    );
    expect(found.count).toBe(1);
  });

  it('keeps a workflow task alive while a local activity outlives the task timeout', async () => {
    const handle = await ctx.client.workflow.start(longLocalActivity, {
      taskQueue: ctx.taskQueue,
      workflowId: `la-long-${randomUUID()}`,
      args: [21, 3500],
      workflowTaskTimeout: '2s',
    });
    // A query while the workflow task is held open by the local activity rides on the next task.
    await new Promise((r) => setTimeout(r, 800));
    expect(await handle.query(phaseQuery)).toBe('running local activity');
    expect(await handle.result()).toBe(42);
    expect(await handle.query(phaseQuery)).toBe('done');
    const events = (await handle.fetchHistory()).events!;
    expect(events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)).toBe(false);
    // The worker heartbeated the task: more than the two workflow tasks a short local activity needs.
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length).toBeGreaterThan(
      1,
    );
  });
});
