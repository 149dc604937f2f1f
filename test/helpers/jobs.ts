// Per-file context for job tests: longhaul's own worker (its real workflows and activities, bundled once per run)
// on a unique task queue against the run's longhaul-server, a temp data directory and the test config.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { ActivityDeps } from '../../activities/deps';
import { loadConfig, type LongHaulConfig } from '../../config/load';
import { ensureSearchAttributes } from '../../jobs/search-attributes';
import { submitJob, type SubmitOptions, type SubmitRequest } from '../../jobs/submit';
import { statusQuery } from '../../workflows/definitions';
import type { JobStatus } from '../../workflows/types';
import { quietRuntime, usePerFile } from './env';
import { createLonghaulWorker } from '../../worker/worker';

export const TEST_CONFIG = path.resolve(__dirname, '..', 'fixtures', 'longhaul.test.yaml');
export const TEST_SECRET = 'longhaul-test-secret-0123456789';

export interface JobsContext {
  config: LongHaulConfig;
  client: Client;
  worker: Worker;
  dataDir: string;
  submit(req: SubmitRequest, opts?: SubmitOptions, clientId?: string): Promise<string>;
  status(jobId: string): Promise<JobStatus>;
  /** Waits for the job's workflow to close and returns its final status. */
  finished(jobId: string): Promise<JobStatus>;
  close(): Promise<void>;
}

export function testConfig(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): LongHaulConfig {
  return loadConfig({
    file: TEST_CONFIG,
    env: {
      LONGHAUL_DATA_DIR: dataDir,
      LONGHAUL_SECRET: TEST_SECRET,
      LONGHAUL_TASK_QUEUE: `jobs-${randomUUID()}`,
      ...extraEnv,
    },
  });
}

export async function createJobsContext(
  opts: { address?: string; deps?: Partial<ActivityDeps>; configure?: (c: LongHaulConfig) => void } = {},
): Promise<JobsContext> {
  const address = opts.address ?? inject('temporalAddress');
  quietRuntime('ERROR');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-jobs-'));
  const config = testConfig(dataDir);
  opts.configure?.(config);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  await ensureSearchAttributes(connection, config.namespace);
  const native = await NativeConnection.connect({ address });
  const worker = await createLonghaulWorker({
    config,
    connection: native,
    client,
    workflowBundle: { codePath: inject('jobsBundlePath') },
    shutdownGraceTime: '1s',
    deps: { progressSignalIntervalMs: 200, resourceCheckIntervalMs: 500, ...opts.deps },
  });
  const running = worker.run();
  const status = (jobId: string) => client.workflow.getHandle(jobId).query(statusQuery);
  return {
    config,
    client,
    worker,
    dataDir,
    async submit(req, submitOpts, clientId = 'alice') {
      return (await submitJob(client, config, clientId, req, submitOpts)).jobId;
    },
    status,
    async finished(jobId) {
      try {
        await client.workflow.getHandle(jobId).result();
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
      }
      return status(jobId);
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function useJobsContext(opts: Parameters<typeof createJobsContext>[0] = {}): JobsContext {
  return usePerFile(() => createJobsContext(opts));
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
