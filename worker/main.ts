// `longhaul worker`: runs one worker process against TEMPORAL_ADDRESS (several may run on several machines).
// SIGINT/SIGTERM shut it down gracefully: in-flight activities get the grace time to finish, then are canceled
// (their processes killed) and retried by another worker.
import type { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config/load';
import { connectClient, connectWorker } from '../jobs/connection';
import { ensureSearchAttributes } from '../jobs/search-attributes';
import { createLonghaulWorker } from './worker';

export async function runWorker(): Promise<void> {
  const config = loadConfig();
  Runtime.install({ logger: new DefaultLogger((process.env.LONGHAUL_LOG_LEVEL?.toUpperCase() as any) ?? 'INFO') });
  const client = await connectClient(config.temporalAddress, config.namespace);
  await ensureSearchAttributes(client.connection as Connection, config.namespace);
  const connection = await connectWorker(config.temporalAddress);
  // LONGHAUL_WORKFLOW_BUNDLE: a bundle built elsewhere (tests pass the one they built for the run).
  const bundle = process.env.LONGHAUL_WORKFLOW_BUNDLE;
  const worker = await createLonghaulWorker({
    config,
    connection,
    client,
    workflowBundle: bundle ? { codePath: bundle } : undefined,
  });
  process.stderr.write(
    `${JSON.stringify({ msg: 'longhaul worker ready', temporal: config.temporalAddress, taskQueue: config.taskQueue, config: config.file, dataDir: config.dataDir })}\n`,
  );
  await worker.run();
  await connection.close();
  await client.connection.close();
}

if (require.main === module) {
  runWorker().catch((err) => {
    process.stderr.write(`longhaul worker: ${err?.message ?? err}\n`);
    process.exit(1);
  });
}
