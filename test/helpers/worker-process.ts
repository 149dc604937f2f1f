// A worker in its own process, so that tests can kill -9 it. argv: address taskQueue bundlePath.
// Prints "ready" once polling; its activity prints "started <key>" and heartbeats while it works.
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

async function main(): Promise<void> {
  const [address, taskQueue, codePath] = process.argv.slice(2);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath },
    stickyQueueScheduleToStartTimeout: '1s',
    activities: {
      async slowStep(key: string): Promise<string> {
        process.stdout.write(`started ${key}\n`);
        for (let i = 0; i < 15; i++) {
          await new Promise((r) => setTimeout(r, 100));
          Context.current().heartbeat(i);
        }
        return `done-${key}`;
      },
    },
  });
  process.stdout.write('ready\n');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
