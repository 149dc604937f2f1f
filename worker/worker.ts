// Creates a longhaul worker: the job workflows (from a prebuilt bundle when there is one) and the activities,
// bound to the config's data directory, notification settings and a client for progress signals.
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';
import { createActivities } from '../activities';
import type { ActivityDeps } from '../activities/deps';
import type { LongHaulConfig } from '../config/load';

/** The bundle `npm run build` writes (dist/workflow-bundle.js), used only when running from dist/ itself, so a
 * worker started from the TypeScript sources never picks up a stale bundle. */
export function prebuiltBundlePath(): string | undefined {
  const p = path.resolve(__dirname, '..', 'workflow-bundle.js');
  return path.basename(path.dirname(__dirname)) === 'dist' && fs.existsSync(p) ? p : undefined;
}

export interface LonghaulWorkerOptions {
  config: LongHaulConfig;
  connection: NativeConnection;
  client: Client;
  /** A bundle built with bundleWorkflowCode (tests build one per run); default: the prebuilt one, else source. */
  workflowBundle?: { codePath: string };
  taskQueue?: string;
  /** How long in-flight activities may take to finish on shutdown before they are canceled (and retried). */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Activity settings that tests shorten. */
  deps?: Partial<ActivityDeps>;
  worker?: Partial<WorkerOptions>;
}

export async function createLonghaulWorker(opts: LonghaulWorkerOptions): Promise<Worker> {
  const { config } = opts;
  fs.mkdirSync(path.join(config.dataDir, 'jobs'), { recursive: true });
  const deps: ActivityDeps = {
    dataDir: config.dataDir,
    client: opts.client,
    smtp: config.smtp,
    secret: config.secret,
    publicUrl: config.publicUrl,
    ...opts.deps,
  };
  const bundle = opts.workflowBundle ?? (prebuiltBundlePath() ? { codePath: prebuiltBundlePath()! } : undefined);
  return Worker.create({
    connection: opts.connection,
    namespace: config.namespace,
    taskQueue: opts.taskQueue ?? config.taskQueue,
    ...(bundle ? { workflowBundle: bundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities(deps),
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    ...opts.worker,
  });
}
