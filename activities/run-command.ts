// The activity that runs one attempt of a command tool. The child writes straight into stdout.log/stderr.log in its
// working directory (no pipes through the worker, so heavy output never waits on our event loop); we poll those
// files for progress lines and size, heartbeat, and on cancel/timeout stop the child's whole process group.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { RunCommandRequest, StepResult, ToolSpec } from '../workflows/types';
import { expandArgv, lookupField, shellCommand, stringifyValue, TemplateError } from './argv';
import type { ActivityDeps } from './deps';
import { resolveJobPath, stepPath, toJobPath } from './job-files';
import { checkToolInput } from './tool-input';
import {
  DEFAULT_KILL_GRACE_MS,
  groupAlive,
  killLeftoverGroup,
  removePidFile,
  signalGroup,
  spawnInGroup,
  terminateGroup,
  writePidFile,
} from './process-group';
import { compileProgressPattern, createProgressReporter, LineSplitter, parseProgress } from './progress';

/** An attempt fails (non-retryably) once stdout or stderr grows beyond this. */
export const MAX_OUTPUT_BYTES = 1024 * 1024 * 1024;
export const TAIL_BYTES = 4096;
/** Written into the working directory on success; collectResults reads it for fan-out items. */
export const RESULT_FILE = 'result.json';
export const STDOUT_FILE = 'stdout.log';
export const STDERR_FILE = 'stderr.log';
const RESULT_PATTERN_SCAN_BYTES = 1024 * 1024;
const JSON_RESULT_MAX_BYTES = 64 * 1024;
const PLAIN_VALUE_MAX_BYTES = 4096;
const POLL_MS = 250;
// Progress only needs the latest lines; after a burst of output, skip to its end rather than parse it all.
const PROGRESS_SCAN_MAX_BYTES = 256 * 1024;

export interface RunCommandOptions {
  /** SIGTERM→SIGKILL grace when stopping a process group. */
  killGraceMs?: number;
}

type StopReason = 'cancel' | 'timeout' | 'too-large';

export function createRunCommand(deps: ActivityDeps, options: RunCommandOptions = {}) {
  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;

  return async function runCommand(request: RunCommandRequest): Promise<StepResult> {
    const ctx = Context.current();
    const startedAt = Date.now();
    const req = { ...request, input: checkToolInput(request.tool, request.input) };
    const { tool } = req;
    if (tool.kind !== 'command' || !tool.command?.length) throw badInput(`tool ${tool.name} has no command`);

    // Everything that depends only on the request is checked before anything is created or run.
    const argv = buildArgv(tool, req.input);
    const progressRe = tool.progress
      ? compileToolRegex(tool, 'progress.pattern', tool.progress.pattern, '')
      : undefined;
    const resultRe = tool.result?.pattern
      ? compileToolRegex(tool, 'result.pattern', tool.result.pattern, 'm')
      : undefined;

    let workdir: string;
    try {
      workdir = resolveJobPath(deps.dataDir, stepPath(req.jobId, req.stepId, req.item));
    } catch (err) {
      throw badInput(errorMessage(err));
    }
    await fsp.mkdir(workdir, { recursive: true });
    const stdoutPath = path.join(workdir, STDOUT_FILE);
    const stderrPath = path.join(workdir, STDERR_FILE);
    const files = { stdoutFile: toJobPath(deps.dataDir, stdoutPath), stderrFile: toJobPath(deps.dataDir, stderrPath) };

    const reporter = createProgressReporter(deps, req, ctx);
    reporter.start();
    const fds: number[] = [];
    const readers: OutputReader[] = [];
    try {
      const killed = await killLeftoverGroup(workdir, graceMs);
      if (killed) ctx.log.warn('killed process group left over from an earlier attempt', { pgid: killed, workdir });
      await fsp.rm(path.join(workdir, RESULT_FILE), { force: true });
      throwIfCancelled(ctx);

      const stdin = prepareStdin(deps, req);
      if (stdin.fd !== undefined) fds.push(stdin.fd);
      const outFd = fs.openSync(stdoutPath, 'w');
      fds.push(outFd);
      const errFd = fs.openSync(stderrPath, 'w');
      fds.push(errFd);

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...tool.env,
        LONGHAUL_JOB_ID: req.jobId,
        LONGHAUL_STEP: req.stepId,
        LONGHAUL_ATTEMPT: String(ctx.info.attempt),
        LONGHAUL_WORKDIR: workdir,
      };
      if (req.item !== undefined) env.LONGHAUL_ITEM = String(req.item);
      else delete env.LONGHAUL_ITEM;

      const stdio: StdioOptions = [stdin.fd ?? (stdin.text !== undefined ? 'pipe' : 'ignore'), outFd, errFd];
      const proc: ChildProcess = spawnInGroup(argv[0], argv.slice(1), { cwd: workdir, env, stdio });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        proc.once('exit', (code, signal) => resolve({ code, signal })),
      );
      try {
        await new Promise<void>((resolve, reject) => {
          proc.once('spawn', resolve);
          proc.once('error', reject);
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'ENOEXEC') {
          throw ApplicationFailure.create({
            message: `${tool.name}: cannot run ${argv[0]}: ${code}`,
            type: 'CommandNotFound',
            nonRetryable: true,
          });
        }
        throw err;
      }
      proc.on('error', (err) => ctx.log.warn('child process error', { error: err.message }));
      const pid = proc.pid!;
      writePidFile(workdir, pid);
      // The child holds its own copies; ours would only keep files open.
      for (const fd of fds.splice(0)) fs.closeSync(fd);
      if (stdin.text !== undefined && proc.stdin) {
        // A tool that doesn't read its stdin closes the pipe early; that's its business, not an error.
        proc.stdin.on('error', () => undefined);
        proc.stdin.end(stdin.text);
      }

      const streams = progressRe ? (tool.progress!.stream ?? 'both') : undefined;
      const stdoutReader = await OutputReader.open(stdoutPath, streams === 'stdout' || streams === 'both');
      readers.push(stdoutReader);
      const stderrReader = await OutputReader.open(stderrPath, streams === 'stderr' || streams === 'both');
      readers.push(stderrReader);
      const poll = async () => {
        for (const r of readers) {
          for (const line of await r.newLines()) {
            const u = parseProgress(line, progressRe!);
            if (u) reporter.update(u);
          }
        }
        return Math.max(stdoutReader.size, stderrReader.size);
      };

      let stop!: (reason: StopReason) => void;
      const stopped = new Promise<StopReason>((resolve) => (stop = resolve));
      const onAbort = () => stop('cancel');
      ctx.cancellationSignal.addEventListener('abort', onAbort);
      if (ctx.cancellationSignal.aborted) stop('cancel');
      // Checked by the poll rather than a timer: setTimeout can't wait a month (it overflows at ~24.8 days).
      const deadline = attemptDeadline(ctx.info.startToCloseTimeoutMs, startedAt);
      let polling = false;
      const pollTimer = setInterval(() => {
        if (deadline && Date.now() >= deadline.at) stop('timeout');
        if (polling) return;
        polling = true;
        poll()
          .then((size) => {
            if (size > MAX_OUTPUT_BYTES) stop('too-large');
          })
          .catch((err) => ctx.log.warn('reading command output failed', { error: errorMessage(err) }))
          .finally(() => (polling = false));
      }, POLL_MS);

      let outcome: { code: number | null; signal: NodeJS.Signals | null } | StopReason;
      try {
        outcome = await Promise.race([exited, stopped]);
        if (typeof outcome === 'string') {
          await terminateGroup(pid, outcome === 'timeout' ? Math.min(graceMs, deadline!.marginMs / 2) : graceMs);
          await exited;
        }
      } finally {
        clearInterval(pollTimer);
        ctx.cancellationSignal.removeEventListener('abort', onAbort);
      }
      // Helpers the tool left running in the background would outlive the step and write into its files.
      if (groupAlive(pid)) signalGroup(pid, 'SIGTERM');
      else removePidFile(workdir);
      while (polling) await delay(10);
      const size = await poll();

      if (outcome === 'cancel') throw cancellation(ctx);
      if (outcome === 'timeout') {
        throw ApplicationFailure.create({
          message: `${tool.name} timed out after ${Date.now() - startedAt} ms`,
          type: 'Timeout',
          details: [{ ...files, stderrTail: await readTail(stderrPath) }],
        });
      }
      if (outcome === 'too-large' || size > MAX_OUTPUT_BYTES) {
        throw ApplicationFailure.create({
          message: `${tool.name}: output exceeds ${MAX_OUTPUT_BYTES} bytes`,
          type: 'OutputTooLarge',
          nonRetryable: true,
          details: [files],
        });
      }

      const { code, signal } = outcome;
      if (code !== 0) {
        const stderrTail = await readTail(stderrPath);
        const lastLine = stderrTail
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .pop();
        const what = code === null ? `killed by ${signal}` : `exited with code ${code}`;
        throw ApplicationFailure.create({
          message: `${tool.name} ${what}${lastLine ? `: ${lastLine.slice(0, 500)}` : ''}`,
          type: 'CommandFailed',
          nonRetryable: code !== null && (tool.retry?.nonRetryableExitCodes ?? []).includes(code),
          details: [{ exitCode: code ?? undefined, signal: signal ?? undefined, stderrTail, ...files }],
        });
      }

      const result: StepResult = {
        exitCode: 0,
        value: await extractValue(tool, stdoutPath, stdoutReader.size, resultRe, ctx),
        stdoutTail: await readTail(stdoutPath),
        ...files,
        stdoutBytes: stdoutReader.size,
        artifacts: (await findOutputs(workdir, tool.outputs ?? [])).map((abs) => toJobPath(deps.dataDir, abs)),
        durationMs: Date.now() - startedAt,
      };
      await writeFileAtomic(path.join(workdir, RESULT_FILE), JSON.stringify(result) + '\n');
      return result;
    } finally {
      reporter.finish();
      for (const fd of fds) fs.closeSync(fd);
      for (const r of readers) await r.close();
    }
  };
}

function buildArgv(tool: ToolSpec, input: Record<string, unknown>): string[] {
  try {
    const command = tool.command!;
    if (tool.shell) return ['/bin/sh', '-c', shellCommand(command, input)];
    return expandArgv(command, input);
  } catch (err) {
    if (err instanceof TemplateError) throw badInput(`${tool.name}: ${err.message}`);
    throw err;
  }
}

function compileToolRegex(tool: ToolSpec, what: string, pattern: string, flags: string): RegExp {
  try {
    return flags ? new RegExp(pattern, flags) : compileProgressPattern(pattern);
  } catch (err) {
    throw badInput(`${tool.name}: invalid ${what}: ${errorMessage(err)}`);
  }
}

/** Where stdin comes from: an upstream file (handed to the child as-is), text, the tool's input field, or nothing. */
function prepareStdin(deps: ActivityDeps, req: RunCommandRequest): { fd?: number; text?: string } {
  if (req.stdin?.file !== undefined) {
    let abs: string;
    try {
      abs = resolveJobPath(deps.dataDir, req.stdin.file);
    } catch (err) {
      throw badInput(errorMessage(err));
    }
    try {
      return { fd: fs.openSync(abs, 'r') };
    } catch (err) {
      throw badInput(`cannot read stdin file ${req.stdin.file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  if (req.stdin?.text !== undefined) return { text: req.stdin.text };
  const field = req.tool.stdin;
  if (field) {
    const value = lookupField(req.input, field);
    if (value === undefined || value === null)
      throw badInput(`${req.tool.name}: missing input field "${field}" (stdin)`);
    return { text: stringifyValue(value) };
  }
  return {};
}

/** Stop a little before the server's start-to-close timeout so the group is killed, not orphaned. */
function attemptDeadline(startToCloseMs: number | undefined, startedAt: number) {
  if (!startToCloseMs || startToCloseMs <= 0) return undefined;
  const marginMs = Math.min(startToCloseMs / 2, Math.min(15_000, Math.max(1000, startToCloseMs * 0.05)));
  return { at: startedAt + startToCloseMs - marginMs, marginMs };
}

/** Incremental reader of an output file: its size, and (if wanted) the new complete lines since the last call. */
class OutputReader {
  size = 0;
  private offset = 0;
  private decoder = new StringDecoder('utf8');
  private readonly splitter = new LineSplitter();

  private constructor(
    private readonly fh: fsp.FileHandle,
    private readonly wantLines: boolean,
  ) {}

  static async open(file: string, wantLines: boolean): Promise<OutputReader> {
    return new OutputReader(await fsp.open(file, 'r'), wantLines);
  }

  async newLines(): Promise<string[]> {
    this.size = (await this.fh.stat()).size;
    if (!this.wantLines || this.size <= this.offset) return [];
    if (this.size - this.offset > PROGRESS_SCAN_MAX_BYTES) {
      this.offset = this.size - PROGRESS_SCAN_MAX_BYTES;
      this.decoder = new StringDecoder('utf8');
      this.splitter.reset();
    }
    const buf = Buffer.alloc(this.size - this.offset);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.offset);
    this.offset += bytesRead;
    return this.splitter.push(this.decoder.write(buf.subarray(0, bytesRead)));
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** The last `bytes` of a file as text, starting at a character boundary. */
export async function readTail(file: string, bytes = TAIL_BYTES): Promise<string> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    let from = 0;
    // Skip UTF-8 continuation bytes of a character cut by the window.
    while (start > 0 && from < bytesRead && (buf[from] & 0xc0) === 0x80) from++;
    return buf.subarray(from, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function readHead(file: string, bytes: number): Promise<string> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function extractValue(
  tool: ToolSpec,
  stdoutPath: string,
  stdoutBytes: number,
  resultRe: RegExp | undefined,
  ctx: Context,
): Promise<unknown> {
  if (resultRe) {
    const m = resultRe.exec(await readHead(stdoutPath, Math.min(stdoutBytes, RESULT_PATTERN_SCAN_BYTES)));
    if (!m) ctx.log.warn('result pattern did not match stdout', { tool: tool.name });
    return m ? (m.groups?.value ?? m[0]) : undefined;
  }
  if (tool.result?.json) {
    if (stdoutBytes > JSON_RESULT_MAX_BYTES) return undefined;
    try {
      return JSON.parse(await readHead(stdoutPath, stdoutBytes));
    } catch (err) {
      // The run itself succeeded; a month of work shouldn't be lost to a malformed summary.
      ctx.log.warn('stdout is not valid JSON', { tool: tool.name, error: errorMessage(err) });
      return undefined;
    }
  }
  if (stdoutBytes > PLAIN_VALUE_MAX_BYTES) return undefined;
  return (await readHead(stdoutPath, stdoutBytes)).trim();
}

/** Glob segment → RegExp: `*` any run of characters, `?` one character, neither crossing `/`. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : `\\${c}`));
  return new RegExp(`^${body}$`);
}

/** Files under `dir` matching any of the patterns (relative, `/`-separated), sorted. Wildcards don't match a
 * leading dot, as in the shell, so `*` doesn't pick up our own `.pid`. */
export async function findOutputs(dir: string, patterns: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) {
    const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
    if (path.isAbsolute(pattern) || segments.length === 0 || segments.includes('..')) continue;
    let current = [dir];
    for (const [i, seg] of segments.entries()) {
      const last = i === segments.length - 1;
      const next: string[] = [];
      for (const base of current) {
        if (!/[*?]/.test(seg)) {
          next.push(path.join(base, seg));
          continue;
        }
        const re = globToRegExp(seg);
        let entries: fs.Dirent[];
        try {
          entries = await fsp.readdir(base, { withFileTypes: true });
        } catch {
          continue;
        }
        for (const e of entries) {
          if (e.name.startsWith('.') && !seg.startsWith('.')) continue;
          if (re.test(e.name) && (last || e.isDirectory())) next.push(path.join(base, e.name));
        }
      }
      current = next;
    }
    for (const p of current) {
      const st = await fsp.stat(p).catch(() => undefined);
      if (st?.isFile()) found.add(p);
    }
  }
  return [...found].sort();
}

async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, file);
}

function throwIfCancelled(ctx: Context): void {
  if (ctx.cancellationSignal.aborted) throw cancellation(ctx);
}

function cancellation(ctx: Context): unknown {
  const reason = ctx.cancellationSignal.reason;
  return reason instanceof CancelledFailure ? reason : new CancelledFailure('CANCELLED');
}

function badInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'BadInput', nonRetryable: true });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
