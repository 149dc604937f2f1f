// Size limits: oversized inputs are refused with INVALID_ARGUMENT, an oversized activity result fails
// the activity instead of entering history.
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestContext } from '../helpers/env';
import { collector, hello, runActivity } from '../workflows';

const ctx = useTestContext({ activities: { hugeResult: async () => big } });
const big = 'x'.repeat(3 * 1024 * 1024);

describe('payload size limits', () => {
  it('refuses a workflow input over 2 MiB', async () => {
    const err = await ctx.client.workflow
      .start(hello, { taskQueue: ctx.taskQueue, workflowId: `big-${randomUUID()}`, args: [big] })
      .catch((e: Error) => e);
    expect(((err as Error).cause as Error).message).toMatch(/INVALID_ARGUMENT: workflow input is \d+ bytes, over the/);
  });

  it('refuses a signal over 2 MiB and leaves the workflow untouched', async () => {
    const handle = await ctx.client.workflow.start(collector, {
      taskQueue: ctx.taskQueue,
      workflowId: `big-signal-${randomUUID()}`,
      args: [1],
    });
    await expect(handle.signal('add', big)).rejects.toThrow();
    await handle.signal('add', 7);
    expect(await handle.result()).toEqual([7]);
  });

  it('fails an activity whose result is over 2 MiB, without retrying it', async () => {
    const err = await ctx.client.workflow
      .execute(runActivity, {
        taskQueue: ctx.taskQueue,
        workflowId: `big-result-${randomUUID()}`,
        args: ['hugeResult', [], { startToCloseTimeout: '10s' }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect((cause as ActivityFailure).cause).toBeInstanceOf(ApplicationFailure);
    expect(((cause as ActivityFailure).cause as ApplicationFailure).type).toBe('BlobSizeLimitError');
  });
});
