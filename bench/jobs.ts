// Jobs benchmark: what longhaul's job machinery costs relative to a plain workflow, measured in the same run and
// process against a durable (SQLite file) longhaul-server. Phases, one after the other:
//   plain      N oneActivity workflows (one no-op activity): the baseline
//   jobs       N `job` workflows submitted with submitJob, tool slow_div {x: 8, y: 2, seconds: 0}: longhaul's real
//              workflows and activities, one real process spawn per job
//   pipelines  M `pipeline` jobs of sequence_report (fetch, fan-out of seq_stats over the records, merge)
// Each phase reports items/s, start-to-completion latency percentiles and CPU per item (server process, this
// process = worker + client, and the tool processes the worker spawned), and jobs are compared with plain workflows.
//
//   npm run bench:jobs                     # builds, then runs 300 + 300 + 10 items at concurrency 50
//   BENCH_JOBS=50 BENCH_PIPELINES=2 npm run bench:jobs   # or: node --import tsx bench/jobs.ts --jobs 50
//
// Options (argv wins over env): --jobs / BENCH_JOBS (300; also the number of plain workflows),
// --concurrency / BENCH_CONCURRENCY (50), --pipelines / BENCH_PIPELINES (10; 0 skips the phase),
// --pipeline-ids / BENCH_PIPELINE_IDS (10 sequences, SEQ001…), --warmup / BENCH_WARMUP (20 plain workflows and
// 20 jobs, plus 1 pipeline, before measuring), --timeout / BENCH_TIMEOUT_S (300 s for the whole run).
// Both workers get the same settings and neither start uses eager start, so the phases differ only in the workflow.
// The last line of output is `BENCH_RESULT {json}` for scripts.
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, type LongHaulConfig } from '../config/load';
import { ensureSearchAttributes } from '../jobs/search-attributes';
import { submitJob, type SubmitRequest } from '../jobs/submit';
import { createLonghaulWorker } from '../worker/worker';
import type { JobStatus } from '../workflows/types';
import {
  intOption,
  meanHistoryEvents,
  percentile,
  readChildrenCpuMs,
  readCpuMs,
  readRss,
  runItems,
  ROOT,
  runBench,
  type ServerProcess,
} from './harness';
import type { BenchActivities, oneActivity } from './workflows';

const CONFIG_FILE = path.join(ROOT, 'longhaul.config.yaml');
const PLAIN_TASK_QUEUE = 'bench-plain';
const JOBS_TASK_QUEUE = 'bench-jobs';
const SECRET = 'longhaul-bench-secret-0123456789'; // 32 characters
const CLIENT_ID = 'bench';

/** The same worker settings for the plain and the longhaul worker (those of bench/engine.ts). */
const WORKER_TUNING = {
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 100,
  maxConcurrentWorkflowTaskPolls: Number(process.env.BENCH_WFT_POLLS ?? 40),
  nonStickyToStickyPollRatio: Number(process.env.BENCH_STICKY_RATIO ?? 0.5),
  workflowThreadPoolSize: Number(process.env.BENCH_WF_THREADS ?? 2),
};

interface Config {
  jobs: number;
  concurrency: number;
  pipelines: number;
  pipelineIds: number;
  warmup: number;
  timeoutMs: number;
}

type PhaseName = 'plain' | 'jobs' | 'pipelines';

interface PhaseResult {
  items: number;
  concurrency: number;
  wallSeconds: number;
  itemsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** Mean history length over a sample (for pipelines: the parent workflow's only, not its fan-out children). */
  historyEventsPerItem: number;
  /**
   * CPU per measured item: the server process, this process (worker + client), the tool processes the worker
   * spawned (reaped children), and machinery = server + workerAndClient (longhaul's own cost, without the tools).
   */
  cpuMsPerItem: { server: number | null; workerAndClient: number; toolProcesses: number | null; machinery: number };
}

interface BenchResult {
  jobs: number;
  concurrency: number;
  pipelines: number;
  pipelineIds: string[];
  warmup: number;
  tool: { name: string; input: Record<string, unknown> };
  phases: { plain: PhaseResult; jobs: PhaseResult; pipelines: PhaseResult | null };
  /** Jobs (and pipelines) relative to plain workflows measured in the same run. */
  ratios: {
    jobsPerSecondToPlain: number;
    /** machinery CPU (server + worker/client) per job ÷ per plain workflow. */
    cpuPerJobToPlain: number;
    serverCpuPerJobToPlain: number | null;
    workerCpuPerJobToPlain: number;
    /** Including the spawned tool process's own CPU. */
    cpuPerJobWithToolToPlain: number | null;
    pipelinesPerSecondToPlain: number | null;
    cpuPerPipelineToPlain: number | null;
  };
  serverRssMb: number | null;
  serverPeakRssMb: number | null;
}

function readConfig(): Config {
  return {
    jobs: intOption('jobs', 'BENCH_JOBS', 300),
    concurrency: intOption('concurrency', 'BENCH_CONCURRENCY', 50),
    pipelines: intOption('pipelines', 'BENCH_PIPELINES', 10, 0),
    pipelineIds: intOption('pipeline-ids', 'BENCH_PIPELINE_IDS', 10),
    warmup: intOption('warmup', 'BENCH_WARMUP', 20, 0),
    timeoutMs: intOption('timeout', 'BENCH_TIMEOUT_S', 300) * 1000,
  };
}

/** Runs one measured phase and takes its figures: wall time, latencies and the CPU used meanwhile. */
async function measurePhase(
  name: PhaseName,
  server: ServerProcess,
  client: Client,
  count: number,
  concurrency: number,
  runOne: (i: number) => Promise<string>,
  log: (msg: string) => void,
): Promise<PhaseResult> {
  const lanes = Math.min(concurrency, count);
  log(`measuring ${name}: ${count} at concurrency ${lanes} ...`);
  const step = Math.max(1, Math.ceil(count / 4));
  const t0 = performance.now();
  const serverCpu0 = readCpuMs(server.pid);
  const childCpu0 = readChildrenCpuMs();
  const selfCpu0 = process.cpuUsage();
  const { latencies, ids } = await runItems(count, concurrency, runOne, (done) => {
    if (done % step === 0 && done < count) log(`  ${done}/${count} done`);
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const serverCpu1 = readCpuMs(server.pid);
  const childCpu1 = readChildrenCpuMs();
  const selfCpu = process.cpuUsage(selfCpu0);
  const server_ = serverCpu0 === null || serverCpu1 === null ? null : (serverCpu1 - serverCpu0) / count;
  const workerAndClient = (selfCpu.user + selfCpu.system) / 1000 / count;
  const cpuMsPerItem = {
    server: server_,
    workerAndClient,
    toolProcesses: childCpu0 === null || childCpu1 === null ? null : (childCpu1 - childCpu0) / count,
    machinery: (server_ ?? 0) + workerAndClient,
  };
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    items: count,
    concurrency: lanes,
    wallSeconds,
    itemsPerSecond: count / wallSeconds,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1],
    },
    historyEventsPerItem: await meanHistoryEvents(client, ids),
    cpuMsPerItem,
  };
}

const SLOW_DIV: SubmitRequest = { tool: 'slow_div', input: { x: 8, y: 2, seconds: 0 } };

/** Submits a job and waits for it; fails unless it succeeded with the expected result. Returns the job id. */
async function runJob(
  client: Client,
  config: LongHaulConfig,
  req: SubmitRequest,
  check: (s: JobStatus) => boolean,
): Promise<string> {
  const { jobId } = await submitJob(client, config, CLIENT_ID, req);
  const status = await client.workflow.getHandle(jobId).result();
  const s = status as JobStatus;
  if (s?.state !== 'succeeded' || !check(s)) {
    throw new Error(
      `job ${jobId} (${req.tool ?? req.pipeline}) ended unexpectedly: ${JSON.stringify(s).slice(0, 500)}`,
    );
  }
  return jobId;
}

async function runBenchmark(
  server: ServerProcess,
  cfg: Config,
  tmpDir: string,
  log: (msg: string) => void,
): Promise<BenchResult> {
  const config = loadConfig({
    file: CONFIG_FILE,
    env: {
      LONGHAUL_DATA_DIR: path.join(tmpDir, 'data'),
      LONGHAUL_SECRET: SECRET,
      LONGHAUL_TASK_QUEUE: JOBS_TASK_QUEUE,
    },
  });
  const seqIds = Array.from({ length: cfg.pipelineIds }, (_, i) => `SEQ${String(i + 1).padStart(3, '0')}`);
  const sequenceReport: SubmitRequest = { pipeline: 'sequence_report', input: { ids: seqIds } };

  log('bundling bench/workflows.ts and workflows/index.ts ...');
  const quiet = new DefaultLogger('WARN');
  const { code: plainCode } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: quiet,
  });
  const jobsBundlePath = path.join(tmpDir, 'jobs-bundle.js');
  const { code: jobsCode } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows/index'),
    logger: quiet,
  });
  fs.writeFileSync(jobsBundlePath, jobsCode);

  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  try {
    await ensureSearchAttributes(connection, config.namespace);
    const client = new Client({ connection, namespace: config.namespace });
    const activities: BenchActivities = { noop: async () => {} };
    const plainWorker = await Worker.create({
      connection: nativeConnection,
      namespace: config.namespace,
      taskQueue: PLAIN_TASK_QUEUE,
      workflowBundle: { code: plainCode },
      activities,
      ...WORKER_TUNING,
    });
    const jobsWorker = await createLonghaulWorker({
      config,
      connection: nativeConnection,
      client,
      workflowBundle: { codePath: jobsBundlePath },
      shutdownGraceTime: '1s',
      worker: WORKER_TUNING,
    });

    const plainOne = (prefix: string) => async (i: number) => {
      const handle = await client.workflow.start<typeof oneActivity>('oneActivity', {
        taskQueue: PLAIN_TASK_QUEUE,
        workflowId: `${prefix}-${i}`,
      });
      await handle.result();
      return handle.workflowId;
    };
    const jobOne = () => runJob(client, config, SLOW_DIV, (s) => String(s.result?.value) === '4');
    const pipelineOne = () =>
      runJob(client, config, sequenceReport, (s) => (s.result?.value as { count?: number })?.count === seqIds.length);

    const run = async (): Promise<BenchResult> => {
      const prefix = `bench-${randomUUID().slice(0, 8)}`;
      if (cfg.warmup > 0) {
        log(`warm-up: ${cfg.warmup} plain workflows, ${cfg.warmup} jobs${cfg.pipelines > 0 ? ', 1 pipeline' : ''} ...`);
        await runItems(cfg.warmup, cfg.concurrency, plainOne(`${prefix}-warmup`));
        await runItems(cfg.warmup, cfg.concurrency, jobOne);
        if (cfg.pipelines > 0) await pipelineOne();
      }
      const plain = await measurePhase('plain', server, client, cfg.jobs, cfg.concurrency, plainOne(prefix), log);
      const jobs = await measurePhase('jobs', server, client, cfg.jobs, cfg.concurrency, jobOne, log);
      const pipelines =
        cfg.pipelines > 0
          ? await measurePhase('pipelines', server, client, cfg.pipelines, cfg.concurrency, pipelineOne, log)
          : null;
      const { rssMb, peakMb } = readRss(server.pid);
      const p = plain.cpuMsPerItem;
      const j = jobs.cpuMsPerItem;
      const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a / b);
      return {
        jobs: cfg.jobs,
        concurrency: cfg.concurrency,
        pipelines: cfg.pipelines,
        pipelineIds: seqIds,
        warmup: cfg.warmup,
        tool: { name: SLOW_DIV.tool!, input: SLOW_DIV.input as Record<string, unknown> },
        phases: { plain, jobs, pipelines },
        ratios: {
          jobsPerSecondToPlain: jobs.itemsPerSecond / plain.itemsPerSecond,
          cpuPerJobToPlain: j.machinery / p.machinery,
          serverCpuPerJobToPlain: ratio(j.server, p.server),
          workerCpuPerJobToPlain: j.workerAndClient / p.workerAndClient,
          cpuPerJobWithToolToPlain: j.toolProcesses === null ? null : (j.machinery + j.toolProcesses) / p.machinery,
          pipelinesPerSecondToPlain: pipelines ? pipelines.itemsPerSecond / plain.itemsPerSecond : null,
          cpuPerPipelineToPlain: pipelines ? pipelines.cpuMsPerItem.machinery / p.machinery : null,
        },
        serverRssMb: rssMb,
        serverPeakRssMb: peakMb,
      };
    };
    // runUntil shuts each worker down once the benchmark settles (success or failure).
    return await plainWorker.runUntil(jobsWorker.runUntil(run()));
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}

function report(r: BenchResult): void {
  const f = (n: number | null, digits = 1): string => (n === null ? 'n/a' : n.toFixed(digits));
  const rss =
    r.serverRssMb === null
      ? 'n/a'
      : `${f(r.serverRssMb)} MB` + (r.serverPeakRssMb === null ? '' : ` (peak ${f(r.serverPeakRssMb)} MB)`);
  console.log('');
  console.log(
    `longhaul jobs bench: up to ${r.concurrency} in flight, durable SQLite, no eager start; ` +
      `jobs = ${r.tool.name} ${JSON.stringify(r.tool.input)}, pipelines = sequence_report over ${r.pipelineIds.length} ids`,
  );
  console.log(
    `  ${'phase'.padEnd(10)} ${'items'.padStart(5)} ${'conc'.padStart(4)} ${'wall s'.padStart(7)} ${'items/s'.padStart(8)}  ` +
      `${'latency p50 / p95 / p99 ms'.padEnd(28)} ${'events'.padStart(6)}  CPU ms/item: server + worker = total (+ tools)`,
  );
  const rows: [PhaseName, PhaseResult | null][] = [
    ['plain', r.phases.plain],
    ['jobs', r.phases.jobs],
    ['pipelines', r.phases.pipelines],
  ];
  for (const [name, p] of rows) {
    if (!p) continue;
    const c = p.cpuMsPerItem;
    const lat = `${f(p.latencyMs.p50, 0)} / ${f(p.latencyMs.p95, 0)} / ${f(p.latencyMs.p99, 0)}`;
    console.log(
      `  ${name.padEnd(10)} ${String(p.items).padStart(5)} ${String(p.concurrency).padStart(4)} ${f(p.wallSeconds, 2).padStart(7)} ` +
        `${f(p.itemsPerSecond).padStart(8)}  ${lat.padEnd(28)} ${f(p.historyEventsPerItem, 0).padStart(6)}  ` +
        `${f(c.server, 2)} + ${f(c.workerAndClient, 2)} = ${f(c.machinery, 2)} (+ ${f(c.toolProcesses, 1)})`,
    );
  }
  const q = r.ratios;
  console.log(
    `  jobs vs plain workflows: ${f(q.jobsPerSecondToPlain, 2)}x the throughput, ${f(q.cpuPerJobToPlain, 2)}x the CPU ` +
      `(server ${f(q.serverCpuPerJobToPlain, 2)}x, worker+client ${f(q.workerCpuPerJobToPlain, 2)}x; ` +
      `${f(q.cpuPerJobWithToolToPlain, 2)}x with the tool process)`,
  );
  if (r.phases.pipelines) {
    console.log(
      `  a pipeline vs a plain workflow: ${f(q.pipelinesPerSecondToPlain, 3)}x the throughput, ` +
        `${f(q.cpuPerPipelineToPlain, 1)}x the CPU (events: parent workflow only)`,
    );
  }
  console.log(`  server RSS ${rss}`);
  console.log(`BENCH_RESULT ${JSON.stringify(r)}`);
}

const cfg = readConfig();
runBench({
  tmpPrefix: 'longhaul-bench-jobs-',
  timeoutMs: cfg.timeoutMs,
  run: (server, tmpDir, log) => runBenchmark(server, cfg, tmpDir, log),
  report,
});
