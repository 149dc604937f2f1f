// Progress of a running command: parsed from its output lines with the tool's pattern, heartbeated to the server
// (which is also how the activity learns of cancellation) and signalled, throttled, to the job's workflow so its
// status shows it. Signals grow rarer as a run ages, so a month-long job sends a few hundred, not millions.
import { Context } from '@temporalio/activity';
import type { ProgressReport } from '../workflows/types';
import type { ActivityDeps } from './deps';

export interface ProgressUpdate {
  progress?: number;
  message?: string;
}

const MAX_MESSAGE_CHARS = 200;
export const MAX_HEARTBEAT_INTERVAL_MS = 10_000;
const MIN_HEARTBEAT_INTERVAL_MS = 100;
export const DEFAULT_SIGNAL_INTERVAL_MS = 2000;

/** Compiles a tool's progress pattern (throws SyntaxError for an invalid one). */
export function compileProgressPattern(pattern: string): RegExp {
  return new RegExp(pattern);
}

/** The progress a line reports, if it matches: named groups `percent` (0–100) and/or `message`. A pattern without
 * named groups takes its first group as the percent. */
export function parseProgress(line: string, re: RegExp): ProgressUpdate | undefined {
  const m = re.exec(line);
  if (!m) return undefined;
  const out: ProgressUpdate = {};
  const percent = m.groups ? m.groups.percent : m[1];
  if (percent !== undefined) {
    const n = Number.parseFloat(percent);
    if (Number.isFinite(n)) out.progress = Math.min(100, Math.max(0, n));
  }
  const message = m.groups?.message?.trim();
  if (message) out.message = message.slice(0, MAX_MESSAGE_CHARS);
  return out.progress === undefined && out.message === undefined ? undefined : out;
}

/** Splits a stream of text into lines; overlong lines are cut so a binary-ish output can't grow the buffer. */
export class LineSplitter {
  private buf = '';
  constructor(private readonly maxLine = 64 * 1024) {}

  push(text: string): string[] {
    const parts = (this.buf + text).split('\n');
    this.buf = parts.pop()!;
    if (this.buf.length > this.maxLine) this.buf = this.buf.slice(-this.maxLine);
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  /** Forgets a partial line (after skipping ahead in the output). */
  reset(): void {
    this.buf = '';
  }

  flush(): string[] {
    const rest = this.buf;
    this.buf = '';
    return rest ? [rest] : [];
  }
}

/** How often to heartbeat: a third of the heartbeat timeout, and at least every 10 s (cancellation arrives only
 * with heartbeat responses, so even without a heartbeat timeout we keep heartbeating). */
export function heartbeatIntervalMs(heartbeatTimeoutMs?: number): number {
  if (!heartbeatTimeoutMs || heartbeatTimeoutMs <= 0) return MAX_HEARTBEAT_INTERVAL_MS;
  return Math.max(MIN_HEARTBEAT_INTERVAL_MS, Math.min(MAX_HEARTBEAT_INTERVAL_MS, Math.floor(heartbeatTimeoutMs / 3)));
}

/** The minimum gap between progress signals for a run that started `elapsedMs` ago. */
export function signalIntervalMs(baseMs: number, elapsedMs: number): number {
  return Math.max(baseMs, elapsedMs / 50);
}

export interface ProgressReporterOptions {
  stepId: string;
  attempt: number;
  heartbeat: (details: ProgressUpdate) => void;
  /** Sends a progress signal to the workflow; absent when there is nobody to signal. */
  signal?: (report: ProgressReport) => Promise<void>;
  heartbeatIntervalMs: number;
  /** Base minimum interval between signals (default 5000 ms). */
  signalIntervalMs?: number;
  onSignalError?: (err: unknown) => void;
  now?: () => number;
}

export class ProgressReporter {
  private readonly now: () => number;
  private readonly startedAt: number;
  private state: ProgressUpdate = {};
  private lastHeartbeatAt = -Infinity;
  private lastSignalAt = -Infinity;
  private signalled: ProgressUpdate = {};
  private inFlight = false;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly opts: ProgressReporterOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  get current(): ProgressUpdate {
    return { ...this.state };
  }

  /** Heartbeats now and then on a timer until finish(). */
  start(): void {
    this.heartbeat();
    const period = Math.max(MIN_HEARTBEAT_INTERVAL_MS, Math.min(1000, this.opts.heartbeatIntervalMs / 2));
    this.timer = setInterval(() => this.tick(), period);
    this.timer.unref();
  }

  /** Merges new progress; fields left undefined keep their previous value. */
  update(u: ProgressUpdate): void {
    if (this.finished) return;
    const next = { progress: u.progress ?? this.state.progress, message: u.message ?? this.state.message };
    if (same(next, this.state)) return;
    this.state = next;
    // Show a change promptly, without turning a chatty tool into a heartbeat storm.
    if (this.now() - this.lastHeartbeatAt >= Math.min(1000, this.opts.heartbeatIntervalMs)) this.heartbeat();
    this.maybeSignal();
  }

  tick(): void {
    if (this.finished) return;
    if (this.now() - this.lastHeartbeatAt >= this.opts.heartbeatIntervalMs) this.heartbeat();
    this.maybeSignal();
  }

  /** Stops the timer and sends a last heartbeat with the final progress (no signal: the result says the rest). */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.finished) return;
    this.finished = true;
    this.heartbeat();
  }

  private heartbeat(): void {
    this.lastHeartbeatAt = this.now();
    this.opts.heartbeat({ progress: this.state.progress, message: this.state.message });
  }

  private maybeSignal(): void {
    const send = this.opts.signal;
    if (!send || this.inFlight || same(this.state, this.signalled)) return;
    const now = this.now();
    const interval = signalIntervalMs(this.opts.signalIntervalMs ?? DEFAULT_SIGNAL_INTERVAL_MS, now - this.startedAt);
    if (now - this.lastSignalAt < interval) return;
    this.lastSignalAt = now;
    const snapshot = { ...this.state };
    this.signalled = snapshot;
    this.inFlight = true;
    const report: ProgressReport = { stepId: this.opts.stepId, attempt: this.opts.attempt, ...snapshot };
    let p: Promise<void>;
    try {
      p = send(report);
    } catch (err) {
      p = Promise.reject(err);
    }
    // A lost progress signal is harmless; it must never fail the run.
    p.catch((err) => this.opts.onSignalError?.(err)).finally(() => {
      this.inFlight = false;
    });
  }
}

function same(a: ProgressUpdate, b: ProgressUpdate): boolean {
  return a.progress === b.progress && a.message === b.message;
}

/** A reporter wired to the current activity: heartbeats through its Context, signals through `deps.client`. */
export function createProgressReporter(
  deps: Pick<ActivityDeps, 'client' | 'progressSignalIntervalMs'>,
  req: { stepId: string; progressTo?: { workflowId: string; runId?: string } },
  ctx: Context = Context.current(),
): ProgressReporter {
  const { client } = deps;
  const target = req.progressTo;
  return new ProgressReporter({
    stepId: req.stepId,
    attempt: ctx.info.attempt,
    heartbeat: (details) => ctx.heartbeat(details),
    signal:
      client && target
        ? (report) => client.workflow.getHandle(target.workflowId, target.runId).signal('progress', report)
        : undefined,
    heartbeatIntervalMs: heartbeatIntervalMs(ctx.info.heartbeatTimeoutMs),
    signalIntervalMs: deps.progressSignalIntervalMs,
    onSignalError: (err) =>
      ctx.log.warn('progress signal failed', { error: err instanceof Error ? err.message : String(err) }),
  });
}
