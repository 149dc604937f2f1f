// Once per test run: start one longhaul-server (in-memory) and bundle the test workflows once.
import { bundleWorkflowCode } from '@temporalio/worker';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startServer, type RunningServer } from './helpers/server';

let server: RunningServer | undefined;
let tmpDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  // LONGHAUL_TEST_TEMPORAL_ADDRESS runs the shared-server tests against another frontend (e.g. a real
  // Temporal, to compare behaviour); tests that crash or restart a server still start their own.
  const external = process.env.LONGHAUL_TEST_TEMPORAL_ADDRESS;
  if (!external) server = await startServer();
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-test-'));
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as any;
  // Test workflows (server tests) and longhaul's own workflows (job tests): each bundled once per run.
  const bundles = await Promise.all(
    [path.resolve(__dirname, 'workflows', 'index.ts'), path.resolve(__dirname, '..', 'workflows', 'index.ts')].map(
      async (workflowsPath, i) => {
        const { code } = await bundleWorkflowCode({ workflowsPath, logger: quiet });
        const file = path.join(tmpDir!, `workflows-bundle-${i}.js`);
        fs.writeFileSync(file, code);
        return file;
      },
    ),
  );
  project.provide('temporalAddress', external ?? server!.address);
  project.provide('workflowBundlePath', bundles[0]);
  project.provide('jobsBundlePath', bundles[1]);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    jobsBundlePath: string;
  }
}
