// What the activity tests share: a temp data directory per file, activity deps, a quiet MockActivityEnvironment
// (the SDK's activity test harness), typed env.run, and catching an expected failure.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { ActivityDeps } from '../../activities/deps';

/** A temp directory for this test file, handed to `set` before the tests and removed after them. */
export function useTempDir(prefix: string, set: (dir: string) => void): void {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    set(dir);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
}

export function activityDeps(dataDir: string, over: Partial<ActivityDeps> = {}): ActivityDeps {
  return { dataDir, secret: 's', publicUrl: 'http://localhost', ...over };
}

/** An activity environment with a 60 s start-to-close and a 3 s heartbeat timeout, unless `info` says otherwise.
 * Expected failures would each log a warning, so only errors are logged. */
export function activityEnv(info: Record<string, unknown> = {}): MockActivityEnvironment {
  return new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000, heartbeatTimeoutMs: 3_000, ...info } as any, {
    logger: new DefaultLogger('ERROR'),
  });
}

/** env.run with the activity's own argument and result types. */
export function runActivity<A extends unknown[], R>(
  e: MockActivityEnvironment,
  fn: (...args: A) => Promise<R>,
  ...args: NoInfer<A>
): Promise<R> {
  return e.run(fn, ...args) as Promise<R>;
}

/** What `p` rejects with; throws if it resolves. */
export async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}
