// What the benchmarks share: options, a durable longhaul-server in a temp directory, /proc readings, percentiles,
// history sampling, and the run-with-a-watchdog main. Each benchmark script keeps only its own phases and report.
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, waitForPort } from '../cli/ports';

export const ROOT = path.resolve(__dirname, '..');
const SERVER_BIN = path.join(ROOT, 'bin', 'longhaul-server');
/** Workflows whose history length is sampled per phase. */
export const HISTORY_SAMPLE = 20;

export interface ServerProcess {
  address: string;
  pid: number;
  /** Rejects if the server exits before stop() is called. */
  died: Promise<never>;
  stop(): Promise<void>;
}

/** Integer option from `--name N`, `--name=N` or an env var, else the default. */
export function intOption(name: string, envVar: string, dflt: number, min = 1): number {
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

/** Spawns longhaul-server on a free port with a SQLite file in `dir` and waits until it accepts TCP connections. */
export async function startServer(dir: string): Promise<ServerProcess> {
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

  try {
    await waitForPort({ port, child, what: 'longhaul-server' });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: `127.0.0.1:${port}`, pid: child.pid!, died, stop };
}

/** Fields after the command name in /proc/<pid>/stat (Linux only; null elsewhere). */
export function procStat(pid: number | 'self'): string[] | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

// USER_HZ is 100 on Linux.
export const ticksToMs = (fields: string[], a: number, b: number): number =>
  ((Number(fields[a]) + Number(fields[b])) * 1000) / 100;

/** CPU time (user + system) a process has used, in ms. */
export function readCpuMs(pid: number): number | null {
  const f = procStat(pid);
  return f ? ticksToMs(f, 11, 12) : null;
}

/** CPU time (user + system) of this process's children that have exited and been waited for (the tools), in ms. */
export function readChildrenCpuMs(): number | null {
  const f = procStat('self');
  return f ? ticksToMs(f, 13, 14) : null;
}

/** Current and peak resident set size of a process in MB, from /proc (Linux only; null elsewhere). */
export function readRss(pid: number): { rssMb: number | null; peakMb: number | null } {
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
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Mean number of history events over an evenly spaced sample of the given workflows. */
export async function meanHistoryEvents(client: Client, ids: string[]): Promise<number> {
  const n = Math.min(HISTORY_SAMPLE, ids.length);
  const sample = Array.from({ length: n }, (_, k) => ids[Math.floor((k * ids.length) / n)]);
  const counts = await Promise.all(
    sample.map(async (id) => (await client.workflow.getHandle(id).fetchHistory()).events?.length ?? 0),
  );
  return counts.reduce((a, b) => a + b, 0) / n;
}

/**
 * Runs `count` items with at most `concurrency` in flight: each lane runs one item (start it, wait for its result)
 * after another. Returns per-item latencies (ms) and the workflow ids the items returned.
 */
export async function runItems(
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

/**
 * Runs a benchmark against a durable longhaul-server in a fresh temp directory, with a watchdog, and prints its
 * report. On failure the temp directory (server log, data) is kept. Exits the process with 0 or 1.
 */
export function runBench<R>(opts: {
  tmpPrefix: string;
  timeoutMs: number;
  run: (server: ServerProcess, tmpDir: string, log: (msg: string) => void) => Promise<R>;
  report: (result: R) => void;
}): void {
  const main = async (): Promise<number> => {
    let lastLog = '';
    const log = (msg: string): void => {
      lastLog = msg.trim();
      console.error(`[bench] ${msg}`);
    };
    Runtime.install({ logger: new DefaultLogger('WARN') });

    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), opts.tmpPrefix));
    let server: ServerProcess | undefined;
    let ok = false;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      log(`starting longhaul-server (db ${path.join(tmpDir, 'bench.db')}) ...`);
      server = await startServer(tmpDir);
      const timedOut = new Promise<never>((_, reject) => {
        watchdog = setTimeout(
          () => reject(new Error(`benchmark timed out after ${opts.timeoutMs / 1000} s (last progress: ${lastLog})`)),
          opts.timeoutMs,
        );
      });
      // Fail fast if the server dies or the run hangs.
      const result = await Promise.race([opts.run(server, tmpDir, log), server.died, timedOut]);
      opts.report(result);
      ok = true;
      return 0;
    } catch (err) {
      console.error(`[bench] FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      console.error(`[bench] server log and data: ${tmpDir} (temp dir kept)`);
      return 1;
    } finally {
      clearTimeout(watchdog);
      await server?.stop();
      if (ok) fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  };
  // Exit explicitly: after a failure, in-flight gRPC calls or worker pollers could otherwise keep the process alive.
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
