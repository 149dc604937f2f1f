// Long waits under time skipping (TestWorkflowEnvironment.createTimeSkipping running longhaul-server): a job that
// may not start for 10 days, and a review nobody answers for 30 days, each finish in seconds of wall time.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LongHaulConfig } from '../../config/load';
import { ensureSearchAttributes } from '../../jobs/search-attributes';
import { submitJob } from '../../jobs/submit';
import { statusQuery } from '../../workflows/definitions';
import { createLonghaulWorker } from '../../worker/worker';
import { testConfig } from '../helpers/jobs';
import { SERVER_BIN } from '../helpers/server';

const DAY = 86_400_000;

describe('jobs under time skipping', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let config: LongHaulConfig;
  let dataDir: string;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: SERVER_BIN } },
    });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-skip-'));
    config = testConfig(dataDir);
    await ensureSearchAttributes(env.connection, config.namespace);
    worker = await createLonghaulWorker({
      config,
      connection: env.nativeConnection,
      client: env.client,
      workflowBundle: { codePath: inject('jobsBundlePath') },
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('waits until notBefore (10 days) before running', async () => {
    const wallStart = Date.now();
    const { jobId } = await submitJob(env.client, config, 'alice', {
      tool: 'slow_div',
      input: { x: 8, y: 2 },
      notBefore: '10d',
    });
    const handle = env.client.workflow.getHandle(jobId);
    const queued = await handle.query(statusQuery);
    expect(queued.state).toBe('queued');
    expect(queued.queuedReason).toMatch(/^not before /);
    const s = await handle.result();
    expect(s.state).toBe('succeeded');
    expect(s.result?.value).toBe('4');
    expect(Date.parse(s.steps[0].startedAt!)).toBeGreaterThanOrEqual(Date.parse(s.notBefore!));
    expect(Date.parse(s.steps[0].startedAt!) - Date.parse(s.createdAt)).toBeGreaterThanOrEqual(10 * DAY - 1000);
    expect(Date.now() - wallStart).toBeLessThan(20_000);
  });

  it('applies the default decision when a 30-day review times out', async () => {
    const { jobId } = await submitJob(env.client, config, 'alice', {
      tool: 'slow_div',
      input: { x: 9, y: 3 },
      review: { timeout: '30d', default: 'approve', message: 'check it' },
    });
    const s = await env.client.workflow.getHandle(jobId).result();
    expect(s.state).toBe('succeeded');
    expect(s.reviews).toEqual([expect.objectContaining({ decision: 'approve', via: 'timeout', stepId: 'review' })]);
    const waited = Date.parse(s.reviews[0].decidedAt) - Date.parse(s.steps[0].finishedAt!);
    expect(waited).toBeGreaterThanOrEqual(30 * DAY - 1000);
  });
});
