// kill -9 of a worker process mid-activity: the attempt times out on its heartbeat, the workflow's
// tasks leave the dead worker's sticky queue, and a new worker finishes every workflow exactly once.
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { heartbeatingWorkflow } from '../workflows';

const EventType = temporal.api.enums.v1.EventType;
let connection: Connection;
let client: Client;
const children: ChildProcess[] = [];

function startWorker(taskQueue: string): { proc: ChildProcess; output: () => string; ready: Promise<void> } {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, '..', 'helpers', 'worker-process.ts'),
      inject('temporalAddress'),
      taskQueue,
      inject('workflowBundlePath'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const ready = new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (out.includes('ready')) {
        clearInterval(check);
        resolve();
      } else if (proc.exitCode !== null) {
        clearInterval(check);
        reject(new Error(`worker exited: ${out}`));
      }
    }, 20);
  });
  return { proc, output: () => out, ready };
}

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await connection?.close();
});

describe('worker crash (kill -9)', () => {
  it('finishes every workflow on a new worker after the first is killed mid-activity', async () => {
    const taskQueue = `worker-crash-${randomUUID()}`;
    const first = startWorker(taskQueue);
    await first.ready;
    const keys = Array.from({ length: 5 }, (_, i) => `k${i}`);
    const handles = await Promise.all(
      keys.map((key) =>
        client.workflow.start(heartbeatingWorkflow, {
          taskQueue,
          workflowId: `wc-${key}-${randomUUID()}`,
          args: [key],
        }),
      ),
    );
    const deadline = Date.now() + 15_000;
    while (!keys.every((k) => first.output().includes(`started ${k}`))) {
      if (Date.now() > deadline) throw new Error(`activities did not start: ${first.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.proc.kill('SIGKILL');
    const second = startWorker(taskQueue);
    await second.ready;
    expect(await Promise.all(handles.map((h) => h.result()))).toEqual(keys.map((k) => `done-${k}`));
    for (const h of handles) {
      const events = (await h.fetchHistory()).events!;
      const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)!;
      // The killed attempt timed out on its heartbeat; a later attempt completed.
      expect(started.activityTaskStartedEventAttributes!.attempt).toBeGreaterThanOrEqual(2);
      expect(started.activityTaskStartedEventAttributes!.lastFailure?.message).toMatch(/Heartbeat timeout/i);
      expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)).toHaveLength(1);
    }
  });
});
