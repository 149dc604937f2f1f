// Activities completed from outside the worker (by task token and by workflow/activity id), heartbeats
// by id, and memo upserts from a workflow.
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestContext } from '../helpers/env';
import { awaitsAsyncActivity, memoWorkflow } from '../workflows';

const ctx = useTestContext({
  activities: {
    asyncStep: async (key: string) => {
      tokens.set(key, Context.current().info.taskToken);
      throw new CompleteAsyncError();
    },
  },
});
const tokens = new Map<string, Uint8Array>();

async function tokenFor(key: string): Promise<Uint8Array> {
  const deadline = Date.now() + 10_000;
  while (!tokens.has(key)) {
    if (Date.now() > deadline) throw new Error(`activity ${key} never started`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return tokens.get(key)!;
}

describe('async activity completion', () => {
  it('completes an activity by task token from a client', async () => {
    const handle = await ctx.client.workflow.start(awaitsAsyncActivity, {
      taskQueue: ctx.taskQueue,
      workflowId: `async-token-${randomUUID()}`,
      args: ['t1'],
    });
    const token = await tokenFor('t1');
    await ctx.client.activity.heartbeat(token, 'still going');
    await ctx.client.activity.complete(token, 'done by token');
    expect(await handle.result()).toBe('done by token');
    // The attempt is over: a second completion is refused.
    await expect(ctx.client.activity.complete(token, 'again')).rejects.toThrow();
  });

  it('completes and fails activities by workflow id and activity id', async () => {
    const ok = await ctx.client.workflow.start(awaitsAsyncActivity, {
      taskQueue: ctx.taskQueue,
      workflowId: `async-id-${randomUUID()}`,
      args: ['i1'],
    });
    await tokenFor('i1');
    await ctx.client.activity.heartbeat({ workflowId: ok.workflowId, activityId: '1' }, 'beat');
    await ctx.client.activity.complete({ workflowId: ok.workflowId, activityId: '1' }, 'done by id');
    expect(await ok.result()).toBe('done by id');
    expect(
      (await ok.fetchHistory()).events!.some(
        (e) => e.activityTaskStartedEventAttributes !== undefined && e.activityTaskStartedEventAttributes !== null,
      ),
    ).toBe(true);
  });
});

describe('memo', () => {
  it('upserts memo from the workflow and shows it in describe', async () => {
    const handle = await ctx.client.workflow.start(memoWorkflow, {
      taskQueue: ctx.taskQueue,
      workflowId: `memo-${randomUUID()}`,
      memo: { stage: 'first', owner: 'tests' },
    });
    expect(await handle.result()).toEqual({ stage: 'second', owner: 'tests', added: 42 });
    expect((await handle.describe()).memo).toEqual({ stage: 'second', owner: 'tests', added: 42 });
  });
});
