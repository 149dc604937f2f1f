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
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, type LongHaulConfig } from '../config/load';
import { ensureSearchAttributes } from '../jobs/search-attributes';
import { submitJob, type SubmitRequest } from '../jobs/submit';
import { createLonghaulWorker } from '../worker/worker';
import type { JobStatus } from '../workflows/types';
import type { BenchActivities, oneActivity } from './workflows';

const ROOT = path.resolve(__dirname, '..');
const SERVER_BIN = path.join(ROOT, 'bin', 'longhaul-server');
const CONFIG_FILE = path.join(ROOT, 'longhaul.config.yaml');
const PLAIN_TASK_QUEUE = 'bench-plain';
const JOBS_TASK_QUEUE = 'bench-jobs';
const SECRET = 'longhaul-bench-secret-0123456789'; // 32 characters
const CLIENT_ID = 'bench';
const HISTORY_SAMPLE = 20;

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

interface ServerProcess {
  address: string;
  pid: number;
  /** Rejects if the server exits before stop() is called. */
  died: Promise<never>;
  stop(): Promise<void>;
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

/** Integer option from `--name N`, `--name=N` or an env var, else the default. */
function intOption(name: string, envVar: string, dflt: number, min = 1): number {
  const argv = process.argv.slice(2);
  const flag = `--${name}`;
  const i = argv.indexOf(flag);
  const raw =
    (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1)) ?? process.env[envVar];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${flag} / ${envVar} must be an integer >= ${min}, got '${raw}'`);
  return n;
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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Spawns longhaul-server on a free port with a SQLite file in `dir` and waits until it accepts TCP connections. */
async function startServer(dir: string): Promise<ServerProcess> {
  const port = await freePort();
  const logPath = path.join(dir, 'server.log');
  const logFd = fs.openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    // BENCH_SERVER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the server.
    [
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      SERVER_BIN,
      '--port',
      String(port),
      '--db-filename',
      path.join(dir, 'bench.db'),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', logFd, logFd],
    },
  );
  fs.closeSync(logFd); // the child holds its own copy

  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const died = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`failed to spawn longhaul-server: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (!stopping) reject(new Error(`longhaul-server exited unexpectedly (code ${code}, signal ${signal})`));
    });
  });
  died.catch(() => {}); // observed via Promise.race; avoid unhandled rejections after a normal stop
  // Never leave a server behind, even if this process dies abruptly.
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    stopping = true;
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 30_000;
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  while (!(await canConnect(port))) {
    if (!alive()) throw new Error(`longhaul-server exited before listening (code ${child.exitCode})`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`longhaul-server did not listen on port ${port} within 30 s`);
    }
    await sleep(50);
  }
  return { address: `127.0.0.1:${port}`, pid: child.pid!, died, stop };
}

/** Fields after the command name in /proc/<pid>/stat (Linux only; null elsewhere). */
function procStat(pid: number | 'self'): string[] | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

// USER_HZ is 100 on Linux.
const ticksToMs = (fields: string[], a: number, b: number): number =>
  ((Number(fields[a]) + Number(fields[b])) * 1000) / 100;

/** CPU time (user + system) a process has used, in ms. */
function readCpuMs(pid: number): number | null {
  const f = procStat(pid);
  return f ? ticksToMs(f, 11, 12) : null;
}

/** CPU time (user + system) of this process's children that have exited and been waited for (the tools), in ms. */
function readChildrenCpuMs(): number | null {
  const f = procStat('self');
  return f ? ticksToMs(f, 13, 14) : null;
}

/** Current and peak resident set size of a process in MB, from /proc (Linux only; null elsewhere). */
function readRss(pid: number): { rssMb: number | null; peakMb: number | null } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number | null => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) / 1024 : null;
    };
    return { rssMb: kb('VmRSS'), peakMb: kb('VmHWM') };
  } catch {
    return { rssMb: null, peakMb: null };
  }
}

/** Nearest-rank percentile of an ascending-sorted array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Runs `count` items with at most `concurrency` in flight: each lane runs one item (start it, wait for its result)
 * after another. Returns per-item latencies (ms) and the workflow ids the items returned.
 */
async function runItems(
  count: number,
  concurrency: number,
  runOne: (i: number) => Promise<string>,
  onDone?: (done: number) => void,
): Promise<{ latencies: number[]; ids: string[] }> {
  const ids = new Array<string>(count);
  const latencies = new Array<number>(count);
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      ids[i] = await runOne(i);
      latencies[i] = performance.now() - t0;
      onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { latencies, ids };
}

/** Mean number of history events over an evenly spaced sample of the given workflows. */
async function meanHistoryEvents(client: Client, ids: string[]): Promise<number> {
  const n = Math.min(HISTORY_SAMPLE, ids.length);
  const sample = Array.from({ length: n }, (_, k) => ids[Math.floor((k * ids.length) / n)]);
  const counts = await Promise.all(
    sample.map(async (id) => (await client.workflow.getHandle(id).fetchHistory()).events?.length ?? 0),
  );
  return counts.reduce((a, b) => a + b, 0) / n;
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

async function main(): Promise<number> {
  const cfg = readConfig();
  let lastLog = '';
  const log = (msg: string): void => {
    lastLog = msg.trim();
    console.error(`[bench] ${msg}`);
  };
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-bench-jobs-'));
  let server: ServerProcess | undefined;
  let ok = false;
  let watchdog: NodeJS.Timeout | undefined;
  try {
    log(`starting longhaul-server (db ${path.join(tmpDir, 'bench.db')}) ...`);
    server = await startServer(tmpDir);
    const timedOut = new Promise<never>((_, reject) => {
      watchdog = setTimeout(
        () => reject(new Error(`benchmark timed out after ${cfg.timeoutMs / 1000} s (last progress: ${lastLog})`)),
        cfg.timeoutMs,
      );
    });
    // Fail fast if the server dies or the run hangs.
    const result = await Promise.race([runBenchmark(server, cfg, tmpDir, log), server.died, timedOut]);
    report(result);
    ok = true;
    return 0;
  } catch (err) {
    console.error(`[bench] FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    console.error(`[bench] server log and job files: ${tmpDir} (temp dir kept)`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    await server?.stop();
    if (ok) fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

// Exit explicitly: after a failure, in-flight gRPC calls or worker pollers could otherwise keep the process alive.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
