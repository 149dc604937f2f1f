// Per-file test context: a client connected to the run's longhaul-server and one worker on a unique task queue.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger, type WorkerOptions } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';

/** Installs the SDK runtime with a quiet logger, once per process (the first caller's level wins). */
export function quietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // already installed in this process
  }
}

export interface TestContext {
  address: string;
  client: Client;
  connection: Connection;
  taskQueue: string;
  worker: Worker;
  /** Resolves when the worker has stopped (after close()). */
  close(): Promise<void>;
}

export function workflowBundle(): { codePath: string } {
  return { codePath: inject('workflowBundlePath') };
}

export async function createTestContext(
  opts: {
    address?: string;
    activities?: Record<string, (...args: any[]) => any>;
    worker?: Partial<WorkerOptions>;
  } = {},
): Promise<TestContext> {
  quietRuntime();
  const address = opts.address ?? inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const taskQueue = `tq-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities: opts.activities ?? {},
    ...opts.worker,
  });
  const running = worker.run();
  return {
    address,
    client,
    connection,
    taskQueue,
    worker,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/**
 * One worker context for a test file: created before its tests and closed after them. The returned
 * object is filled in by the beforeAll hook, so use it inside tests only.
 */
export function useTestContext(opts: Parameters<typeof createTestContext>[0] = {}): TestContext {
  return usePerFile(() => createTestContext(opts));
}

/**
 * A context made before a test file's tests and closed after them. The returned object is filled in by the
 * beforeAll hook, so use it inside tests only.
 */
export function usePerFile<T extends { close(): Promise<void> }>(create: () => Promise<T>): T {
  const ctx = {} as T;
  beforeAll(async () => {
    Object.assign(ctx, await create());
  });
  afterAll(async () => {
    await ctx.close?.();
  });
  return ctx;
}
