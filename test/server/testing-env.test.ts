// @temporalio/testing's TestWorkflowEnvironment.createLocal running longhaul-server as its dev server executable.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietRuntime, workflowBundle } from '../helpers/env';
import { SERVER_BIN } from '../helpers/server';
import { echoActivity, hello, sleeper } from '../workflows';

let env: TestWorkflowEnvironment | undefined;

beforeAll(async () => {
  quietRuntime();
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: SERVER_BIN } },
  });
});

afterAll(async () => {
  await env?.teardown();
});

describe('TestWorkflowEnvironment.createLocal with longhaul-server', () => {
  it('runs workflows and activities through a worker on env.nativeConnection', async () => {
    const taskQueue = `testenv-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env!.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: { echo: async (s: string) => `env:${s}` },
    });
    const results = await worker.runUntil(async () => {
      const a = await env!.client.workflow.execute(hello, {
        taskQueue,
        workflowId: `testenv-hello-${randomUUID()}`,
        args: ['env'],
      });
      const b = await env!.client.workflow.execute(echoActivity, {
        taskQueue,
        workflowId: `testenv-echo-${randomUUID()}`,
        args: ['x'],
      });
      const t0 = Date.now();
      const c = await env!.client.workflow.execute(sleeper, {
        taskQueue,
        workflowId: `testenv-sleep-${randomUUID()}`,
        args: [300],
      });
      return { a, b, c, slept: Date.now() - t0 };
    });
    expect(results.a).toBe('hello env');
    expect(results.b).toBe('env:x');
    expect(results.c).toBe('slept');
    expect(results.slept).toBeGreaterThanOrEqual(300);
  });

  it('exposes a working client (describe/list) on the environment', async () => {
    const handle = await env!.client.workflow.start(sleeper, {
      taskQueue: `testenv-idle-${randomUUID()}`,
      workflowId: `testenv-idle-${randomUUID()}`,
      args: [60_000],
    });
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const ids: string[] = [];
    for await (const wf of env!.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
      ids.push(wf.workflowId);
    }
    expect(ids).toEqual([handle.workflowId]);
    await handle.terminate('done');
    expect((await handle.describe()).status.name).toBe('TERMINATED');
  });
});
