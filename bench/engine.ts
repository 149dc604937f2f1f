// Engine benchmark: runs N one-activity workflows against a durable (SQLite file) longhaul-server and reports
// throughput, history events/s (≈ state transitions/s) and start-to-completion latency percentiles.
//
//   npm run bench:engine                      # builds, then runs 2000 workflows at concurrency 100
//   BENCH_WORKFLOWS=200 npm run bench:engine  # or: node --import tsx bench/engine.ts --workflows 200
//
// Options (argv wins over env): --workflows / BENCH_WORKFLOWS (2000), --concurrency / BENCH_CONCURRENCY (100),
// --warmup / BENCH_WARMUP (50), --timeout / BENCH_TIMEOUT_S (900 s for the whole run).
// The last line of output is `BENCH_RESULT {json}` for scripts.
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  HISTORY_SAMPLE,
  intOption,
  meanHistoryEvents,
  percentile,
  readCpuMs,
  readRss,
  runItems,
  runBench,
  type ServerProcess,
} from './harness';
import type { BenchActivities, oneActivity } from './workflows';

const TASK_QUEUE = 'bench';

interface Config {
  workflows: number;
  concurrency: number;
  warmup: number;
  timeoutMs: number;
}

interface BenchResult {
  workflows: number;
  concurrency: number;
  warmup: number;
  wallSeconds: number;
  workflowsPerSecond: number;
  historyEventsPerWorkflow: number;
  historyEventsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  serverRssMb: number | null;
  serverPeakRssMb: number | null;
  /** CPU used per measured workflow by the server process and by this process (worker + client). */
  cpuMsPerWorkflow: { server: number | null; workerAndClient: number };
  /** Baseline measured in the same run: no-op RPCs (GetSystemInfo) per second at the same concurrency. */
  baselineRpcPerSecond: number;
  /** workflows/s divided by the baseline: machine-independent throughput (workflows per 1000 no-op RPCs). */
  workflowsPer1000Rpc: number;
}

function readConfig(): Config {
  return {
    workflows: intOption('workflows', 'BENCH_WORKFLOWS', 2000),
    concurrency: intOption('concurrency', 'BENCH_CONCURRENCY', 100),
    warmup: intOption('warmup', 'BENCH_WARMUP', 50, 0),
    timeoutMs: intOption('timeout', 'BENCH_TIMEOUT_S', 900) * 1000,
  };
}

/**
 * The run's baseline: how many no-op RPCs (GetSystemInfo, no persistence) the server answers per second
 * with `concurrency` in flight. Workflow throughput is reported as a ratio to it, which varies far less
 * between machines and runs than raw workflows/s.
 */
async function noopRpcRate(connection: Connection, concurrency: number, calls = 10_000): Promise<number> {
  const burst = async (n: number): Promise<number> => {
    let left = n;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await connection.workflowService.getSystemInfo({});
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  };
  await burst(2000); // warm-up (JIT, connection)
  return await burst(calls);
}

/** BENCH_EAGER=0 turns off eager workflow start (then the client uses its own gRPC connection). */
const EAGER = process.env.BENCH_EAGER !== '0';

/**
 * Runs `count` oneActivity workflows with at most `concurrency` in flight: each lane starts a workflow and waits
 * for its result. Returns per-workflow start-call-to-completion latencies (ms) and the workflow ids.
 */
async function runWorkflows(
  client: Client,
  prefix: string,
  count: number,
  concurrency: number,
  onDone?: (done: number) => void,
): Promise<{ latencies: number[]; ids: string[] }> {
  return runItems(
    count,
    concurrency,
    async (i) => {
      const handle = await client.workflow.start<typeof oneActivity>('oneActivity', {
        taskQueue: TASK_QUEUE,
        workflowId: `${prefix}-${i}`,
        requestEagerStart: EAGER,
      });
      await handle.result();
      return handle.workflowId;
    },
    onDone,
  );
}

async function runBenchmark(server: ServerProcess, cfg: Config, log: (msg: string) => void): Promise<BenchResult> {
  log('bundling bench/workflows.ts ...');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: new DefaultLogger('WARN'),
  });

  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  try {
    // With eager start the client shares the worker's native connection (the SDK requires it) and the
    // first workflow task comes back in the start response instead of through a poll.
    const client = new Client({ connection: EAGER ? nativeConnection : connection });
    const activities: BenchActivities = { noop: async () => {} };
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowBundle: { code },
      activities,
      maxConcurrentWorkflowTaskExecutions: 100,
      maxConcurrentActivityTaskExecutions: 100,
      // Enough pollers that task hand-off, not poll round trips, sets the pace.
      maxConcurrentWorkflowTaskPolls: Number(process.env.BENCH_WFT_POLLS ?? 40),
      nonStickyToStickyPollRatio: Number(process.env.BENCH_STICKY_RATIO ?? 0.5),
      workflowThreadPoolSize: Number(process.env.BENCH_WF_THREADS ?? 2),
    });

    const run = async (): Promise<BenchResult> => {
      const prefix = `bench-${randomUUID().slice(0, 8)}`;
      if (cfg.warmup > 0) {
        log(`warm-up: ${cfg.warmup} workflows ...`);
        await runWorkflows(client, `${prefix}-warmup`, cfg.warmup, cfg.concurrency);
      }

      const baselineRpcPerSecond = await noopRpcRate(connection, cfg.concurrency);
      log(`baseline: ${baselineRpcPerSecond.toFixed(0)} no-op RPCs/s`);
      log(`measuring: ${cfg.workflows} workflows at concurrency ${cfg.concurrency} ...`);
      const step = Math.max(1, Math.ceil(cfg.workflows / 4));
      const t0 = performance.now();
      const serverCpu0 = readCpuMs(server.pid);
      const selfCpu0 = process.cpuUsage();
      const { latencies, ids } = await runWorkflows(client, prefix, cfg.workflows, cfg.concurrency, (done) => {
        if (done % step === 0 && done < cfg.workflows) log(`  ${done}/${cfg.workflows} done`);
      });
      const wallSeconds = (performance.now() - t0) / 1000;
      const { rssMb, peakMb } = readRss(server.pid);
      const serverCpu1 = readCpuMs(server.pid);
      const selfCpu = process.cpuUsage(selfCpu0);
      const cpuMsPerWorkflow = {
        server: serverCpu0 === null || serverCpu1 === null ? null : (serverCpu1 - serverCpu0) / cfg.workflows,
        workerAndClient: (selfCpu.user + selfCpu.system) / 1000 / cfg.workflows,
      };

      const eventsPerWorkflow = await meanHistoryEvents(client, ids);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        workflows: cfg.workflows,
        concurrency: cfg.concurrency,
        warmup: cfg.warmup,
        wallSeconds,
        workflowsPerSecond: cfg.workflows / wallSeconds,
        historyEventsPerWorkflow: eventsPerWorkflow,
        historyEventsPerSecond: (eventsPerWorkflow * cfg.workflows) / wallSeconds,
        latencyMs: {
          p50: percentile(sorted, 50),
          p95: percentile(sorted, 95),
          p99: percentile(sorted, 99),
          max: sorted[sorted.length - 1],
        },
        serverRssMb: rssMb,
        serverPeakRssMb: peakMb,
        cpuMsPerWorkflow,
        baselineRpcPerSecond,
        workflowsPer1000Rpc: (cfg.workflows / wallSeconds / baselineRpcPerSecond) * 1000,
      };
    };
    // runUntil shuts the worker down once the benchmark settles (success or failure).
    return await worker.runUntil(run());
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}

function report(r: BenchResult): void {
  const f = (n: number, digits = 1): string => n.toFixed(digits);
  const rss =
    r.serverRssMb === null
      ? 'n/a'
      : `${f(r.serverRssMb)} MB` + (r.serverPeakRssMb === null ? '' : ` (peak ${f(r.serverPeakRssMb)} MB)`);
  console.log('');
  console.log(
    `longhaul engine bench: ${r.workflows} x oneActivity, concurrency ${r.concurrency}, durable SQLite, ` +
      `eager start ${EAGER ? 'on' : 'off'}`,
  );
  console.log(`  wall time              ${f(r.wallSeconds, 2)} s`);
  console.log(`  workflows/s            ${f(r.workflowsPerSecond)}`);
  console.log(
    `  history events/s       ${f(r.historyEventsPerSecond, 0)}  (≈ state transitions/s; ` +
      `${f(r.historyEventsPerWorkflow)} events/workflow over ${Math.min(HISTORY_SAMPLE, r.workflows)} sampled)`,
  );
  console.log(
    `  latency p50/p95/p99    ${f(r.latencyMs.p50)} / ${f(r.latencyMs.p95)} / ${f(r.latencyMs.p99)} ms ` +
      `(max ${f(r.latencyMs.max)} ms)`,
  );
  console.log(`  server RSS             ${rss}`);
  const c = r.cpuMsPerWorkflow;
  console.log(
    `  CPU per workflow       server ${c.server === null ? 'n/a' : f(c.server, 2)} ms, ` +
      `worker+client ${f(c.workerAndClient, 2)} ms (2 cores = ${f(2000 / ((c.server ?? 0) + c.workerAndClient), 0)} wf/s at full CPU)`,
  );
  console.log(
    `  baseline               ${f(r.baselineRpcPerSecond, 0)} no-op RPCs/s → ${f(r.workflowsPer1000Rpc, 1)} workflows per 1000 no-op RPCs`,
  );
  console.log(`BENCH_RESULT ${JSON.stringify(r)}`);
}

const cfg = readConfig();
runBench({
  tmpPrefix: 'longhaul-bench-',
  timeoutMs: cfg.timeoutMs,
  run: (server, _tmpDir, log) => runBenchmark(server, cfg, log),
  report,
});
