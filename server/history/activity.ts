// Activity tasks: scheduling, dispatch, the four timeouts, retries with back-off (which add no
// events: attempts, last failure and heartbeat details live in mutable state), heartbeats and
// cancellation. ActivityTaskStarted is written together with the attempt's outcome.
import { randomUUID } from 'node:crypto';
import { invalidArgument, notFound } from '../grpc';
import { EventType, Failure, Payloads, durationMs, enums, fromB64, msToDuration, msToTimestamp, toB64 } from '../proto';
import { decodeToken, encodeToken, type Engine } from './engine';
import type { Execution } from './execution';
import type { ActivityInfo, RetryPolicy } from './state';

const TimeoutType = enums.TimeoutType;
const RetryState = enums.RetryState;

export function normalizeRetryPolicy(p: any): RetryPolicy {
  const initialIntervalMs = durationMs(p?.initialInterval) || 1000;
  return {
    initialIntervalMs,
    backoffCoefficient: p?.backoffCoefficient || 2,
    maximumIntervalMs: durationMs(p?.maximumInterval) || 100 * initialIntervalMs,
    maximumAttempts: p?.maximumAttempts || 0,
    nonRetryableErrorTypes: [...(p?.nonRetryableErrorTypes ?? [])],
  };
}

export function retryPolicyProto(r: RetryPolicy): any {
  return {
    initialInterval: msToDuration(r.initialIntervalMs),
    backoffCoefficient: r.backoffCoefficient,
    maximumInterval: msToDuration(r.maximumIntervalMs),
    maximumAttempts: r.maximumAttempts,
    nonRetryableErrorTypes: r.nonRetryableErrorTypes,
  };
}

export class Activities {
  constructor(private readonly engine: Engine) {}

  /** Validate and normalise ScheduleActivityTask attributes (throws INVALID_ARGUMENT). */
  validate(exec: Execution, a: any): void {
    if (!a?.activityId) throw invalidArgument('ActivityId is not set on ScheduleActivityTaskCommand.');
    if (!a.activityType?.name) throw invalidArgument('ActivityType is not set on ScheduleActivityTaskCommand.');
    for (const ai of Object.values(exec.ms.activities)) {
      if (ai.activityId === a.activityId) throw invalidArgument(`Activity ID "${a.activityId}" is already in use.`);
    }
    if (!durationMs(a.scheduleToCloseTimeout) && !durationMs(a.startToCloseTimeout)) {
      throw invalidArgument(
        'A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.',
      );
    }
  }

  /** ScheduleActivityTask command: append the event and create the pending activity. */
  schedule(exec: Execution, a: any, completedEventId: number): ActivityInfo {
    const engine = this.engine;
    const ms = exec.ms;
    const now = engine.clock.now();
    let s2c = durationMs(a.scheduleToCloseTimeout);
    if (!s2c && ms.runTimeoutMs) s2c = 0;
    let stc = durationMs(a.startToCloseTimeout) || s2c;
    let s2s = durationMs(a.scheduleToStartTimeout) || s2c;
    if (s2c) {
      stc = Math.min(stc, s2c);
      s2s = Math.min(s2s || s2c, s2c);
    }
    const hb = Math.min(durationMs(a.heartbeatTimeout), stc);
    const retry = normalizeRetryPolicy(a.retryPolicy);
    const taskQueue = a.taskQueue?.name || ms.taskQueue;
    const ev = engine.append(
      exec,
      EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      'activityTaskScheduledEventAttributes',
      {
        activityId: a.activityId,
        activityType: a.activityType,
        taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        header: a.header ?? undefined,
        input: a.input ?? undefined,
        scheduleToCloseTimeout: durationOrZero(s2c),
        scheduleToStartTimeout: durationOrZero(s2s),
        startToCloseTimeout: durationOrZero(stc),
        heartbeatTimeout: durationOrZero(hb),
        workflowTaskCompletedEventId: completedEventId,
        retryPolicy: retryPolicyProto(retry),
        useWorkflowBuildId: a.useWorkflowBuildId,
      },
    );
    const ai: ActivityInfo = {
      scheduledId: ev.eventId,
      activityId: a.activityId,
      activityType: a.activityType.name,
      taskQueue,
      attempt: 1,
      scheduledTime: now,
      attemptScheduledTime: now,
      notBefore: 0,
      startedTime: 0,
      started: false,
      startedIdentity: '',
      startedRequestId: '',
      heartbeatTime: 0,
      heartbeatDetails: null,
      lastFailure: null,
      cancelRequested: false,
      cancelRequestedEventId: 0,
      scheduleToCloseMs: s2c,
      scheduleToStartMs: s2s,
      startToCloseMs: stc,
      heartbeatMs: hb,
      retry,
    };
    ms.activities[ai.scheduledId] = ai;
    this.armScheduleTimeouts(exec, ai);
    return ai;
  }

  dispatch(exec: Execution, ai: ActivityInfo): void {
    const ns = exec.ms.namespace;
    const task = { runId: exec.ms.runId, scheduledId: ai.scheduledId, attempt: ai.attempt };
    const queue = ai.taskQueue;
    this.engine.store.afterCommit(() => this.engine.matching.add(ns, 'activity', queue, task));
  }

  /** After a restart: queue what was waiting and re-arm every deadline from the recorded times. */
  rearm(exec: Execution): void {
    for (const ai of Object.values(exec.ms.activities)) {
      this.armScheduleTimeouts(exec, ai);
      if (ai.started) this.armAttemptTimeouts(exec, ai);
      else if (ai.notBefore > this.engine.clock.now()) this.armRetry(exec, ai);
      else this.dispatch(exec, ai);
    }
  }

  private timer(exec: Execution, ai: ActivityInfo, at: number, fire: (e: Execution, a: ActivityInfo) => void): void {
    const runId = exec.ms.runId;
    const { scheduledId, attempt } = ai;
    this.engine.clock.schedule(at, () => {
      const e = this.engine.byRunId(runId);
      const a = e?.ms.activities[scheduledId];
      if (!e || !e.isOpen || !a || a.attempt !== attempt) return;
      fire(e, a);
    });
  }

  /** Schedule-to-close (all attempts) and schedule-to-start (this attempt, while queued). */
  private armScheduleTimeouts(exec: Execution, ai: ActivityInfo): void {
    if (ai.scheduleToCloseMs) {
      const runId = exec.ms.runId;
      const scheduledId = ai.scheduledId;
      this.engine.clock.schedule(ai.scheduledTime + ai.scheduleToCloseMs, () => {
        const e = this.engine.byRunId(runId);
        const a = e?.ms.activities[scheduledId];
        if (e?.isOpen && a) this.timeOut(e, a, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
      });
    }
    if (ai.scheduleToStartMs && !ai.started && ai.scheduleToStartMs !== ai.scheduleToCloseMs) {
      this.timer(exec, ai, Math.max(ai.attemptScheduledTime, ai.notBefore) + ai.scheduleToStartMs, (e, a) => {
        if (!a.started) this.timeOut(e, a, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
      });
    }
  }

  private armAttemptTimeouts(exec: Execution, ai: ActivityInfo): void {
    if (ai.startToCloseMs) {
      const startedTime = ai.startedTime;
      this.timer(exec, ai, ai.startedTime + ai.startToCloseMs, (e, a) => {
        if (a.started && a.startedTime === startedTime) this.timeOut(e, a, TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
      });
    }
    if (ai.heartbeatMs) this.armHeartbeat(exec, ai);
  }

  private armHeartbeat(exec: Execution, ai: ActivityInfo): void {
    const startedTime = ai.startedTime;
    const due = Math.max(ai.startedTime, ai.heartbeatTime) + ai.heartbeatMs;
    this.timer(exec, ai, due, (e, a) => {
      if (!a.started || a.startedTime !== startedTime) return;
      const deadline = Math.max(a.startedTime, a.heartbeatTime) + a.heartbeatMs;
      if (this.engine.clock.now() >= deadline) this.timeOut(e, a, TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
      else this.armHeartbeat(e, a);
    });
  }

  private armRetry(exec: Execution, ai: ActivityInfo): void {
    this.timer(exec, ai, ai.notBefore, (e, a) => {
      if (!a.started) this.dispatch(e, a);
    });
  }

  /** A poller took the task: mark the attempt started and build the poll response (null if stale). */
  start(task: { runId: string; scheduledId: number; attempt: number }, identity: string): any | null {
    const exec = this.engine.byRunId(task.runId);
    const ai = exec?.ms.activities[task.scheduledId];
    if (!exec || !exec.isOpen || !ai || ai.attempt !== task.attempt || ai.started) return null;
    return this.startAttempt(exec, ai, identity);
  }

  startAttempt(exec: Execution, ai: ActivityInfo, identity: string): any {
    const now = this.engine.clock.now();
    ai.started = true;
    ai.startedTime = now;
    ai.startedIdentity = identity;
    ai.startedRequestId = randomUUID();
    ai.heartbeatTime = 0;
    this.armAttemptTimeouts(exec, ai);
    this.engine.dirty(exec);
    const ms = exec.ms;
    const sched = exec.events[ai.scheduledId - 1].activityTaskScheduledEventAttributes;
    return {
      taskToken: encodeToken({ k: 'a', r: ms.runId, s: ai.scheduledId, a: ai.attempt, n: ms.namespace }),
      workflowNamespace: ms.namespace,
      workflowType: { name: ms.workflowType },
      workflowExecution: { workflowId: ms.workflowId, runId: ms.runId },
      activityType: { name: ai.activityType },
      activityId: ai.activityId,
      header: sched.header ?? undefined,
      input: sched.input ?? undefined,
      heartbeatDetails: fromB64(Payloads, ai.heartbeatDetails) ?? undefined,
      scheduledTime: msToTimestamp(ai.scheduledTime),
      currentAttemptScheduledTime: msToTimestamp(ai.attemptScheduledTime),
      startedTime: msToTimestamp(now),
      attempt: ai.attempt,
      // The SDK requires these fields; zero means "no limit".
      scheduleToCloseTimeout: durationOrZero(ai.scheduleToCloseMs),
      startToCloseTimeout: durationOrZero(ai.startToCloseMs),
      heartbeatTimeout: durationOrZero(ai.heartbeatMs),
      retryPolicy: retryPolicyProto(ai.retry),
    };
  }

  /** The running attempt a token (or workflow id + activity id) names; NOT_FOUND when it is over. */
  resolve(ns: string, req: any, byId: boolean): { exec: Execution; ai: ActivityInfo } {
    if (byId) {
      const exec = this.engine.find(ns, req.workflowId, req.runId);
      const ai = exec && Object.values(exec.ms.activities).find((a) => a.activityId === req.activityId);
      if (!exec || !exec.isOpen || !ai || !ai.started)
        throw notFound('activity not found (completed, timed out or unknown)');
      return { exec, ai };
    }
    const t = decodeToken(req.taskToken);
    if (t.k !== 'a') throw invalidArgument('invalid task token');
    const exec = this.engine.byRunId(t.r);
    const ai = exec?.ms.activities[t.s];
    if (!exec || !exec.isOpen || !ai || ai.attempt !== t.a || !ai.started) {
      throw notFound('activity task not found (completed, timed out or retried)');
    }
    return { exec, ai };
  }

  /** Write Started (if the attempt ran) plus the outcome event, and forget the activity. */
  private finish(exec: Execution, ai: ActivityInfo, eventType: number, key: string, attrs: object): void {
    delete exec.ms.activities[ai.scheduledId];
    const group: Array<[number, string, object]> = [];
    if (ai.started) {
      group.push([
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        'activityTaskStartedEventAttributes',
        {
          scheduledEventId: ai.scheduledId,
          identity: ai.startedIdentity,
          requestId: ai.startedRequestId,
          attempt: ai.attempt,
          lastFailure: fromB64(Failure, ai.lastFailure) ?? undefined,
        },
      ]);
    }
    group.push([eventType, key, { scheduledEventId: ai.scheduledId, startedEventId: ai.started ? -1 : 0, ...attrs }]);
    this.engine.addExternalGroup(exec, group);
  }

  completed(exec: Execution, ai: ActivityInfo, result: any, identity: string): void {
    this.finish(exec, ai, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 'activityTaskCompletedEventAttributes', {
      result: result ?? undefined,
      identity,
    });
  }

  failed(exec: Execution, ai: ActivityInfo, failure: any, identity: string, lastHeartbeatDetails?: any): void {
    if (lastHeartbeatDetails) ai.heartbeatDetails = toB64(Payloads, lastHeartbeatDetails);
    const retryState = this.retryState(ai, failure);
    if (retryState === null) return this.retry(exec, ai, failure);
    this.finish(exec, ai, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED, 'activityTaskFailedEventAttributes', {
      failure,
      identity,
      retryState,
    });
  }

  canceled(exec: Execution, ai: ActivityInfo, details: any, identity: string): void {
    this.finish(exec, ai, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes', {
      details: details ?? undefined,
      latestCancelRequestedEventId: ai.cancelRequestedEventId,
      identity,
    });
  }

  heartbeat(exec: Execution, ai: ActivityInfo, details: any): boolean {
    ai.heartbeatTime = this.engine.clock.now();
    if (details) ai.heartbeatDetails = toB64(Payloads, details);
    this.engine.dirty(exec);
    return ai.cancelRequested;
  }

  /** null when the attempt should be retried, else the retry state that ends the activity. */
  private retryState(ai: ActivityInfo, failure: any): number | null {
    if (ai.cancelRequested) return RetryState.RETRY_STATE_CANCEL_REQUESTED;
    const app = failure?.applicationFailureInfo;
    if (app?.nonRetryable) return RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
    if (app && ai.retry.nonRetryableErrorTypes.includes(app.type)) return RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
    if (ai.retry.maximumAttempts && ai.attempt >= ai.retry.maximumAttempts)
      return RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    const delay = this.backoff(ai, app);
    if (ai.scheduleToCloseMs && this.engine.clock.now() + delay >= ai.scheduledTime + ai.scheduleToCloseMs) {
      return RetryState.RETRY_STATE_TIMEOUT;
    }
    return null;
  }

  private backoff(ai: ActivityInfo, app?: any): number {
    const explicit = durationMs(app?.nextRetryDelay);
    if (explicit) return explicit;
    const r = ai.retry;
    return Math.min(r.initialIntervalMs * r.backoffCoefficient ** (ai.attempt - 1), r.maximumIntervalMs);
  }

  private retry(exec: Execution, ai: ActivityInfo, failure: any): void {
    const now = this.engine.clock.now();
    const app = failure?.applicationFailureInfo;
    ai.notBefore = now + this.backoff(ai, app);
    ai.attempt++;
    ai.attemptScheduledTime = ai.notBefore;
    ai.started = false;
    ai.startedTime = 0;
    ai.lastFailure = toB64(Failure, failure);
    this.engine.dirty(exec);
    if (ai.scheduleToStartMs && ai.scheduleToStartMs !== ai.scheduleToCloseMs) {
      this.timer(exec, ai, ai.notBefore + ai.scheduleToStartMs, (e, a) => {
        if (!a.started) this.timeOut(e, a, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
      });
    }
    this.armRetry(exec, ai);
  }

  private timeOut(exec: Execution, ai: ActivityInfo, timeoutType: number): void {
    const heartbeat = fromB64(Payloads, ai.heartbeatDetails);
    const failure = {
      message: `activity ${timeoutName(timeoutType)} timeout`,
      source: 'Server',
      timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: heartbeat ?? undefined },
    };
    const retryable =
      timeoutType === TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE || timeoutType === TimeoutType.TIMEOUT_TYPE_HEARTBEAT;
    const retryState = retryable ? this.retryState(ai, failure) : RetryState.RETRY_STATE_TIMEOUT;
    if (retryState === null) return this.retry(exec, ai, failure);
    const last = fromB64(Failure, ai.lastFailure);
    this.finish(exec, ai, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, 'activityTaskTimedOutEventAttributes', {
      failure:
        timeoutType === TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE && last ? { ...failure, cause: last } : failure,
      retryState,
    });
  }

  /**
   * RequestCancelActivityTask command. A queued (not started) activity is canceled at once; a running
   * one is told through its next heartbeat. Returns true when a result event was added.
   */
  requestCancel(exec: Execution, scheduledId: number, completedEventId: number): boolean {
    const ai = exec.ms.activities[scheduledId];
    // An activity that finished while this task ran (its result still buffered) gets the request recorded too, as
    // in Temporal; the workflow then sees the result after it.
    if (!ai && !exec.buffered.some((ev: any) => finishedScheduledId(ev) === scheduledId)) {
      throw invalidArgument(`RequestCancelActivityTask: no pending activity with scheduled event id ${scheduledId}.`);
    }
    const ev = this.engine.append(
      exec,
      EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
      'activityTaskCancelRequestedEventAttributes',
      { scheduledEventId: scheduledId, workflowTaskCompletedEventId: completedEventId },
    );
    if (!ai) return false;
    ai.cancelRequested = true;
    ai.cancelRequestedEventId = ev.eventId;
    if (!ai.started) {
      delete exec.ms.activities[scheduledId];
      this.engine.append(exec, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes', {
        scheduledEventId: scheduledId,
        startedEventId: 0,
        latestCancelRequestedEventId: ev.eventId,
        identity: '',
      });
      return true;
    }
    return false;
  }
}

/** The scheduled event id of an activity result event (completed, failed, timed out, canceled), else undefined. */
function finishedScheduledId(ev: any): number | undefined {
  const a =
    ev.activityTaskCompletedEventAttributes ??
    ev.activityTaskFailedEventAttributes ??
    ev.activityTaskTimedOutEventAttributes ??
    ev.activityTaskCanceledEventAttributes;
  return a ? Number(a.scheduledEventId) : undefined;
}

function durationOrZero(ms: number): any {
  return msToDuration(ms) ?? { seconds: 0, nanos: 0 };
}

function timeoutName(t: number): string {
  switch (t) {
    case TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE:
      return 'StartToClose';
    case TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START:
      return 'ScheduleToStart';
    case TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
      return 'ScheduleToClose';
    case TimeoutType.TIMEOUT_TYPE_HEARTBEAT:
      return 'Heartbeat';
    default:
      return '';
  }
}
