// kill -9 in the middle of a pipeline: of the worker process (a new one takes over), and of a durable
// longhaul-server (restarted on the same database). Either way the job finishes once and no step result is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { statusQuery } from '../../workflows/definitions';
import type { JobStatus } from '../../workflows/types';
import { createJobsContext, eventually, TEST_CONFIG, TEST_SECRET, testConfig, type JobsContext } from '../helpers/jobs';
import { useDurableServer } from '../helpers/server';
import { Client, Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../jobs/search-attributes';
import { submitJob } from '../../jobs/submit';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `SEQ${String(i + 1).padStart(3, '0')}`);
const WORKER_MAIN = path.resolve(__dirname, '..', '..', 'worker', 'main.ts');

function expectComplete(s: JobStatus, items: number): void {
  expect(s.state).toBe('succeeded');
  expect(s.steps.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  const stats = s.steps.find((x) => x.id === 'stats')!;
  expect(stats.result?.items).toMatchObject({ total: items, succeeded: items, failed: 0 });
  const collected = stats.result!.value as ({ id: string } | null)[];
  expect(collected.map((c) => c?.id)).toEqual(ids(items));
  expect((s.steps.find((x) => x.id === 'merge')!.result!.value as { count: number }).count).toBe(items);
}

describe('kill -9 of the worker process mid-pipeline', () => {
  let dataDir: string;
  let client: Client;
  let connection: Connection;
  const procs: ChildProcess[] = [];

  const startWorker = (taskQueue: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        LONGHAUL_CONFIG: TEST_CONFIG,
        LONGHAUL_DATA_DIR: dataDir,
        LONGHAUL_SECRET: TEST_SECRET,
        LONGHAUL_TASK_QUEUE: taskQueue,
        LONGHAUL_WORKFLOW_BUNDLE: inject('jobsBundlePath'),
        LONGHAUL_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    procs.push(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', () => err.includes('longhaul worker ready') && resolve());
      child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
    });
    return { child, ready };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-wcrash-'));
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection });
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await connection.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a new worker finishes the pipeline; finished steps are not redone', async () => {
    const config = testConfig(dataDir);
    await ensureSearchAttributes(connection, config.namespace);
    const first = startWorker(config.taskQueue);
    await first.ready;
    const { jobId } = await submitJob(client, config, 'alice', {
      pipeline: 'fan',
      input: { ids: ids(12), delayMs: 800 },
    });
    const handle = client.workflow.getHandle(jobId);
    const before = await eventually(async () => {
      const s = await handle.query(statusQuery);
      return (s.steps.find((x) => x.id === 'stats')?.items?.succeeded ?? 0) >= 2 ? s : undefined;
    }, 30_000);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const fetchBefore = before.steps.find((x) => x.id === 'fetch')!;

    const second = startWorker(config.taskQueue);
    await second.ready;
    const result = (await handle.result()) as JobStatus;
    expectComplete(result, 12);
    // The fetch step finished before the crash and kept its result: it was not run again.
    expect(result.steps.find((x) => x.id === 'fetch')).toMatchObject({
      finishedAt: fetchBefore.finishedAt,
      result: fetchBefore.result,
    });
    const runs = await client.workflow.count(`WorkflowId = '${jobId}'`);
    expect(runs.count).toBe(1);
    second.child.kill('SIGKILL');
  }, 120_000);

  it('SIGTERM lets an in-flight command finish before the worker exits', async () => {
    const config = testConfig(dataDir);
    const w = startWorker(config.taskQueue);
    await w.ready;
    const { jobId } = await submitJob(client, config, 'alice', { tool: 'slow_div', input: { x: 8, y: 2, seconds: 2 } });
    const handle = client.workflow.getHandle(jobId);
    await eventually(async () => (await handle.query(statusQuery)).state === 'running', 30_000);
    w.child.kill('SIGTERM');
    const code = await new Promise((r) => w.child.once('exit', r));
    expect(code).toBe(0);
    // The command ran to its end on the stopping worker (its result file exists) ...
    const stdout = path.join(dataDir, 'jobs', jobId, 'steps', 'run', 'stdout.log');
    expect(fs.readFileSync(stdout, 'utf8')).toContain('The answer is: 4');
    // ... and another worker only has to record it: one attempt, no rerun.
    const next = startWorker(config.taskQueue);
    await next.ready;
    const s = (await handle.result()) as JobStatus;
    expect(s).toMatchObject({ state: 'succeeded', result: { value: '4' } });
    expect(s.steps[0].attempt ?? 1).toBe(1);
    next.child.kill('SIGKILL');
  }, 120_000);
});

describe('kill -9 of longhaul-server mid-pipeline', () => {
  const server = useDurableServer('jobs-crash');
  let ctx: JobsContext;

  beforeAll(async () => {
    ctx = await createJobsContext({ address: server.current.address });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('the job finishes once after a restart on the same database', async () => {
    const jobId = await ctx.submit({ pipeline: 'fan', input: { ids: ids(10), delayMs: 600 } });
    await eventually(async () => {
      const s = await ctx.status(jobId);
      return (s.steps.find((x) => x.id === 'stats')?.items?.succeeded ?? 0) >= 2;
    }, 30_000);
    await server.down('crash');
    await new Promise((r) => setTimeout(r, 500));
    await server.up();
    const s = await ctx.finished(jobId);
    expectComplete(s, 10);
    const runs = await ctx.client.workflow.count(`WorkflowId = '${jobId}'`);
    expect(runs.count).toBe(1);
  }, 120_000);
});
