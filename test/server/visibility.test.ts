// Visibility (ListWorkflowExecutions / CountWorkflowExecutions) against longhaul-server.
import { type WorkflowExecutionInfo } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { hello } from '../workflows';

let ctx: TestContext;
// Workflows of a type unique to this run, on a task queue nobody polls: they stay Running unless terminated.
const uniqueType = `visType_${randomUUID().replace(/-/g, '')}`;
const idPrefix = `vis-${randomUUID()}`;
const idleQueue = `vis-idle-${randomUUID()}`;
const ids = [0, 1, 2].map((i) => `${idPrefix}-${i}`);
const completedId = `${idPrefix}-completed`;
const runIds = new Map<string, string>();

async function list(query?: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const wf of ctx.client.workflow.list(query === undefined ? undefined : { query })) out.push(wf);
  return out;
}

beforeAll(async () => {
  ctx = await createTestContext();
  for (const workflowId of ids) {
    const handle = await ctx.client.workflow.start(uniqueType, { taskQueue: idleQueue, workflowId, args: [] });
    runIds.set(workflowId, handle.firstExecutionRunId);
  }
  await ctx.client.workflow.getHandle(ids[2]).terminate('visibility test');
  const done = await ctx.client.workflow.start(hello, {
    taskQueue: ctx.taskQueue,
    workflowId: completedId,
    args: ['v'],
  });
  runIds.set(completedId, done.firstExecutionRunId);
  await done.result();
});

afterAll(async () => {
  if (ctx) {
    for (const workflowId of ids.slice(0, 2)) {
      await ctx.client.workflow
        .getHandle(workflowId)
        .terminate('cleanup')
        .catch(() => undefined);
    }
    await ctx.close();
  }
});

describe('visibility', () => {
  it('lists and counts everything with an empty query', async () => {
    const all = await list();
    expect(new Set(all.map((wf) => `${wf.workflowId}/${wf.runId}`)).size).toBe(all.length);
    const seen = new Set(all.map((wf) => wf.workflowId));
    for (const id of [...ids, completedId]) expect(seen.has(id)).toBe(true);
    // Other test files share the server, so only lower bounds are exact here; the count must cover what was listed.
    const { count } = await ctx.client.workflow.count();
    expect(count).toBeGreaterThanOrEqual(all.length);
    expect(count).toBeGreaterThanOrEqual(4);
  });

  it("filters by WorkflowType = '...'", async () => {
    const query = `WorkflowType = '${uniqueType}'`;
    const found = await list(query);
    expect(found.map((wf) => wf.workflowId).sort()).toEqual([...ids].sort());
    for (const wf of found) {
      expect(wf.type).toBe(uniqueType);
      expect(wf.taskQueue).toBe(idleQueue);
      expect(wf.runId).toBe(runIds.get(wf.workflowId));
      expect(wf.startTime).toBeInstanceOf(Date);
    }
    expect(found.find((wf) => wf.workflowId === ids[2])!.status.name).toBe('TERMINATED');
    expect(found.find((wf) => wf.workflowId === ids[0])!.status.name).toBe('RUNNING');
    expect((await ctx.client.workflow.count(query)).count).toBe(3);
  });

  it("filters by ExecutionStatus = 'Running'", async () => {
    const running = await list(`ExecutionStatus = 'Running'`);
    expect(running.every((wf) => wf.status.name === 'RUNNING')).toBe(true);
    const runningIds = new Set(running.map((wf) => wf.workflowId));
    expect(runningIds.has(ids[0])).toBe(true);
    expect(runningIds.has(ids[1])).toBe(true);
    expect(runningIds.has(ids[2])).toBe(false);
    expect(runningIds.has(completedId)).toBe(false);

    const query = `WorkflowType = '${uniqueType}' AND ExecutionStatus = 'Running'`;
    expect((await list(query)).map((wf) => wf.workflowId).sort()).toEqual([ids[0], ids[1]].sort());
    expect((await ctx.client.workflow.count(query)).count).toBe(2);
    expect(
      (await ctx.client.workflow.count(`WorkflowType = '${uniqueType}' AND ExecutionStatus = 'Terminated'`)).count,
    ).toBe(1);
  });

  it("filters by ExecutionStatus = 'Completed'", async () => {
    const completed = await list(`ExecutionStatus = 'Completed'`);
    expect(completed.every((wf) => wf.status.name === 'COMPLETED')).toBe(true);
    const done = completed.find((wf) => wf.workflowId === completedId);
    expect(done).toBeDefined();
    expect(done!.type).toBe('hello');
    expect(done!.closeTime).toBeInstanceOf(Date);
    expect(completed.some((wf) => ids.includes(wf.workflowId))).toBe(false);
  });

  it("filters by WorkflowId = '...'", async () => {
    const found = await list(`WorkflowId = '${ids[1]}'`);
    expect(found).toHaveLength(1);
    expect(found[0].workflowId).toBe(ids[1]);
    expect(found[0].runId).toBe(runIds.get(ids[1]));
    expect((await ctx.client.workflow.count(`WorkflowId = '${ids[1]}'`)).count).toBe(1);
    expect((await ctx.client.workflow.count(`WorkflowId = '${idPrefix}-does-not-exist'`)).count).toBe(0);
    expect(await list(`WorkflowId = '${idPrefix}-does-not-exist'`)).toEqual([]);
  });
});
