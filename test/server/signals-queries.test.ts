// Signals, queries and signalWithStart against longhaul-server.
import {
  Client,
  QueryNotRegisteredError,
  QueryRejectCondition,
  QueryRejectedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { addSignal, collector, valuesQuery } from '../workflows';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  await ctx?.close();
});

const opts = () => ({ taskQueue: ctx.taskQueue, workflowId: `sq-${randomUUID()}` });

async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.map((e) => temporal.api.enums.v1.EventType[e.eventType!].replace(/^EVENT_TYPE_/, ''));
}

describe('signals', () => {
  it('delivers a signal to a running workflow', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [1] });
    await handle.signal(addSignal, 7);
    expect(await handle.result()).toEqual([7]);
    const history = await handle.fetchHistory();
    const signaled = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(signaled).toHaveLength(1);
    expect(signaled[0].workflowExecutionSignaledEventAttributes!.signalName).toBe('add');
  });

  it('delivers sequential signals in the order they were sent', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [10] });
    for (let i = 0; i < 10; i++) await handle.signal(addSignal, i);
    expect(await handle.result()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('delivers every one of many concurrent signals exactly once', async () => {
    const n = 50;
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [n] });
    await Promise.all(Array.from({ length: n }, (_, i) => handle.signal(addSignal, i)));
    const result = await handle.result();
    expect(result).toHaveLength(n);
    expect([...result].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    // History records each signal once, in the order the workflow saw them.
    const history = await handle.fetchHistory();
    const signaledValues = history
      .events!.filter((e) => e.workflowExecutionSignaledEventAttributes)
      .map((e) =>
        JSON.parse(Buffer.from(e.workflowExecutionSignaledEventAttributes!.input!.payloads![0].data!).toString()),
      );
    expect(signaledValues).toEqual(result);
  });

  it('rejects a signal to a completed workflow with WorkflowNotFoundError', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [1] });
    await handle.signal(addSignal, 1);
    expect(await handle.result()).toEqual([1]);
    await expect(handle.signal(addSignal, 2)).rejects.toBeInstanceOf(WorkflowNotFoundError);
    const types = await eventTypes(handle);
    expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_SIGNALED')).toHaveLength(1);
    expect(types.at(-1)).toBe('WORKFLOW_EXECUTION_COMPLETED');
  });

  it('rejects a signal to an unknown workflow with WorkflowNotFoundError', async () => {
    const handle = ctx.client.workflow.getHandle(`sq-missing-${randomUUID()}`);
    await expect(handle.signal(addSignal, 1)).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('queries', () => {
  it('answers a query on an open workflow with its current state', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [3] });
    expect(await handle.query(valuesQuery)).toEqual([]);
    await handle.signal(addSignal, 1);
    await handle.signal(addSignal, 2);
    expect(await handle.query(valuesQuery)).toEqual([1, 2]);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.signal(addSignal, 3);
    expect(await handle.result()).toEqual([1, 2, 3]);
    // Queries are not recorded in history.
    const types = await eventTypes(handle);
    expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_SIGNALED')).toHaveLength(3);
  });

  it('answers a query on a completed workflow', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [2] });
    await handle.signal(addSignal, 5);
    await handle.signal(addSignal, 6);
    expect(await handle.result()).toEqual([5, 6]);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await handle.query(valuesQuery)).toEqual([5, 6]);
  });

  it('rejects a query on a closed workflow when queryRejectCondition is NOT_OPEN', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [1] });
    await handle.signal(addSignal, 4);
    await handle.result();
    const strictClient = new Client({
      connection: ctx.connection,
      workflow: { queryRejectCondition: QueryRejectCondition.NOT_OPEN },
    });
    const err = await strictClient.workflow
      .getHandle(handle.workflowId)
      .query(valuesQuery)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(QueryRejectedError);
    expect((err as QueryRejectedError).status).toBe(
      temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
    );
  });

  it('rejects a query for an unknown query type', async () => {
    const handle = await ctx.client.workflow.start(collector, { ...opts(), args: [1] });
    const err = await handle.query('noSuchQuery').then(
      () => undefined,
      (e: unknown) => e,
    );
    // The worker's failure reaches the client as INVALID_ARGUMENT, which the SDK surfaces as QueryNotRegisteredError.
    expect(err).toBeInstanceOf(QueryNotRegisteredError);
    expect((err as Error).message).toMatch(/noSuchQuery/);
    await handle.signal(addSignal, 1);
    await handle.result();
  });

  it('fails a query within a bounded time when no worker polls the task queue', async () => {
    const handle = await ctx.client.workflow.start(collector, {
      taskQueue: `no-worker-${randomUUID()}`,
      workflowId: `sq-noworker-${randomUUID()}`,
      args: [1],
    });
    const t0 = Date.now();
    await expect(ctx.connection.withDeadline(Date.now() + 3000, () => handle.query(valuesQuery))).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(15_000);
    await handle.terminate('cleanup');
  });
});

describe('signalWithStart', () => {
  it('starts a new workflow and delivers the signal', async () => {
    const o = opts();
    const handle = await ctx.client.workflow.signalWithStart(collector, {
      ...o,
      args: [2],
      signal: addSignal,
      signalArgs: [10],
    });
    expect(handle.signaledRunId).toBeTruthy();
    await handle.signal(addSignal, 20);
    expect(await handle.result()).toEqual([10, 20]);
    expect((await handle.describe()).runId).toBe(handle.signaledRunId);
    const types = await eventTypes(handle);
    expect(types[0]).toBe('WORKFLOW_EXECUTION_STARTED');
    expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_SIGNALED')).toHaveLength(2);
  });

  it('signals an existing workflow without starting a new run', async () => {
    const o = opts();
    const first = await ctx.client.workflow.start(collector, { ...o, args: [2] });
    await first.signal(addSignal, 1);
    const second = await ctx.client.workflow.signalWithStart(collector, {
      ...o,
      args: [99],
      signal: addSignal,
      signalArgs: [2],
    });
    expect(second.signaledRunId).toBe(first.firstExecutionRunId);
    expect(await first.result()).toEqual([1, 2]);
    const runs: string[] = [];
    for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = '${o.workflowId}'` })) runs.push(wf.runId);
    expect(runs).toEqual([first.firstExecutionRunId]);
  });
});
