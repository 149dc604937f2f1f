// What follows a closed run besides continue-as-new: a retry (the workflow's RetryPolicy) after a
// failure or timeout, or the next cron run. Either way the closing event names the new run
// (newExecutionRunId), which is how clients following runs (handle.result()) find it.
import { CronExpressionParser } from 'cron-parser';
import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../grpc';
import { durationMs, enums } from '../proto';
import { normalizeRetryPolicy } from './activity';
import type { Engine } from './engine';
import type { Execution } from './execution';

const RetryState = enums.RetryState;
const Initiator = enums.ContinueAsNewInitiator;

/** Throws INVALID_ARGUMENT unless `spec` is a cron expression Temporal would accept. */
export function validateCron(spec: string): void {
  nextCronTime(spec, Date.now());
}

/** Next fire time strictly after `after` (ms), for standard cron (UTC) and `@every <duration>`. */
export function nextCronTime(spec: string, after: number): number {
  const every = /^@every\s+(\d+)(ms|s|m|h|d)$/.exec(spec.trim());
  if (every) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[every[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    const period = Number(every[1]) * unit;
    if (period <= 0) throw invalidArgument(`invalid cron schedule "${spec}": period must be positive`);
    return (Math.floor(after / period) + 1) * period;
  }
  try {
    return CronExpressionParser.parse(spec, { currentDate: new Date(after), tz: 'UTC' })
      .next()
      .getTime();
  } catch (err) {
    throw invalidArgument(`invalid cron schedule "${spec}": ${(err as Error).message}`);
  }
}

export interface NextRun {
  runId: string;
  delayMs: number;
  initiator: number;
  retryState: number;
  attempt: number;
}

export class RunChain {
  constructor(private readonly engine: Engine) {}

  /**
   * Decide what follows a failure (failure given) or a run timeout (failure null). Returns the retry
   * state to record and, when the workflow is retried or has a cron schedule, the next run to start.
   */
  afterFailure(exec: Execution, failure: any | null): { retryState: number; next: NextRun | null } {
    const started = exec.events[0].workflowExecutionStartedEventAttributes;
    const attempt = Number(started.attempt) || 1;
    const retryState = this.retryState(exec, started, attempt, failure);
    if (retryState === null) {
      const policy = normalizeRetryPolicy(started.retryPolicy);
      const app = failure?.applicationFailureInfo;
      const delayMs =
        durationMs(app?.nextRetryDelay) ||
        Math.min(policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1), policy.maximumIntervalMs);
      return {
        retryState: RetryState.RETRY_STATE_IN_PROGRESS,
        next: {
          runId: randomUUID(),
          delayMs,
          initiator: Initiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
          retryState: 0,
          attempt: attempt + 1,
        },
      };
    }
    return { retryState, next: this.cronNext(exec, started) };
  }

  /** After a successful completion: the next cron run, if any. */
  afterCompletion(exec: Execution): NextRun | null {
    return this.cronNext(exec, exec.events[0].workflowExecutionStartedEventAttributes);
  }

  private retryState(exec: Execution, started: any, attempt: number, failure: any | null): number | null {
    if (!started.retryPolicy) return RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET;
    const policy = normalizeRetryPolicy(started.retryPolicy);
    const app = failure?.applicationFailureInfo;
    if (app?.nonRetryable || (app && policy.nonRetryableErrorTypes.includes(app.type))) {
      return RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
    }
    if (policy.maximumAttempts && attempt >= policy.maximumAttempts)
      return RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    const deadline = exec.ms.executionDeadline;
    if (deadline && this.engine.clock.now() >= deadline) return RetryState.RETRY_STATE_TIMEOUT;
    return null;
  }

  private cronNext(exec: Execution, started: any): NextRun | null {
    const spec: string = started.cronSchedule;
    if (!spec) return null;
    const now = this.engine.clock.now();
    return {
      runId: randomUUID(),
      delayMs: Math.max(0, nextCronTime(spec, now) - now),
      initiator: Initiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE,
      retryState: 0,
      attempt: 1,
    };
  }

  /** Start the run that follows `exec` (the closing event was written with next.runId). */
  start(exec: Execution, next: NextRun, extra: { lastCompletionResult?: any; failure?: any }): Execution {
    const ms = exec.ms;
    const started = exec.events[0].workflowExecutionStartedEventAttributes;
    ms.newRunId = next.runId;
    return this.engine.createRun({
      namespace: ms.namespace,
      workflowId: ms.workflowId,
      workflowType: ms.workflowType,
      taskQueue: ms.taskQueue,
      input: started.input,
      header: started.header,
      memo: this.engine.memo(exec),
      searchAttributes: this.engine.searchAttributes(exec),
      retryPolicy: started.retryPolicy,
      cronSchedule: started.cronSchedule,
      executionTimeoutMs: ms.executionTimeoutMs,
      runTimeoutMs: durationMs(started.workflowRunTimeout),
      wftTimeoutMs: ms.wftTimeoutMs,
      identity: started.identity ?? '',
      requestId: next.runId,
      runId: next.runId,
      attempt: next.attempt,
      firstTaskDelayMs: next.delayMs,
      parent: ms.parent,
      continued: {
        firstRunId: ms.firstRunId,
        previousRunId: ms.runId,
        initiator: next.initiator,
        lastCompletionResult: extra.lastCompletionResult,
        failure: extra.failure,
        executionDeadline: ms.executionDeadline,
      },
    });
  }
}
