// Workflow task completion: WorkflowTaskCompleted, then one handler per command, then the events
// that were buffered while the task ran; then a new task if anything is left for the workflow.
import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../grpc';
import { EventType, SearchAttributes, Memo, durationMs, enums, fromB64, toB64 } from '../proto';
import type { Activities } from './activity';
import type { Children, PostAction } from './children';
import { validateSearchAttributes } from '../visibility/search-attributes';
import type { Engine } from './engine';
import type { Execution } from './execution';

const CommandType = enums.CommandType;
const Status = enums.WorkflowExecutionStatus;
const Cause = enums.WorkflowTaskFailedCause;

const TERMINAL = new Set<number>([
  CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
  CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
  CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
  CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
]);

/** What a completion produced for the caller to hand back (eager activities, new run). */
export interface CompletionResult {
  eagerActivities: any[];
  /** Set when a speculative task was discarded: the worker rewinds its history to this event. */
  resetHistoryEventId?: number;
  newRun?: Execution;
  /** Effects on other workflows, run once this task's own events are written. */
  post: PostAction[];
}

class BadCommand extends Error {
  constructor(
    readonly reason: number,
    message: string,
  ) {
    super(message);
  }
}

/** Whether buffered events remain that the workflow will see: all but firings of timers these commands cancel. */
function hasUnseen(exec: Execution, commands: any[]): boolean {
  const canceledTimers = new Set(
    commands
      .filter((c) => c.commandType === CommandType.COMMAND_TYPE_CANCEL_TIMER)
      .map((c) => c.cancelTimerCommandAttributes?.timerId),
  );
  return exec.buffered.some((ev: any) => !canceledTimers.has(ev.timerFiredEventAttributes?.timerId));
}

export class Commands {
  constructor(
    private readonly engine: Engine,
    private readonly activities: Activities,
    private readonly children: Children,
    /** Registered custom search attributes (name → type), for validating upserts. */
    private readonly searchAttributeTypes: ReadonlyMap<string, number>,
  ) {}

  complete(exec: Execution, req: any): CompletionResult {
    const engine = this.engine;
    const ms = exec.ms;
    const wft = ms.wft!;
    const commands: any[] = req.commands ?? [];
    const identity: string = req.identity ?? '';
    const result: CompletionResult = { eagerActivities: [], post: [] };
    engine.answerQueries(exec, req.queryResults, wft.seq);

    // A workflow may not close while events it has not seen are waiting: the task fails and
    // a new one delivers them. (A timer this task cancels never delivers its buffered firing.)
    if (exec.buffered.length && commands.some((c) => TERMINAL.has(c.commandType)) && hasUnseen(exec, commands)) {
      engine.failWft(exec, 'failed', { cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, identity });
      engine.routeWaitingQueries(exec);
      return result;
    }
    try {
      for (const c of commands) this.validate(exec, c);
    } catch (err) {
      if (!(err instanceof BadCommand)) throw err;
      engine.failWft(exec, 'failed', { cause: err.reason, failure: { message: err.message }, identity });
      throw invalidArgument(err.message);
    }

    const messages = engine.updates.decode(req.messages);
    if (this.discardable(exec, commands, messages)) {
      // Only rejections: drop the task as if it never ran (no events), and tell the worker so.
      for (const m of messages.values()) engine.updates.apply(exec, m);
      ms.wft = null;
      this.keepSticky(exec, req);
      engine.updates.settle(exec, wft.seq);
      if (engine.updates.hasAdmitted(exec)) engine.scheduleSpeculativeWft(exec);
      engine.routeWaitingQueries(exec);
      engine.dirty(exec);
      result.resetHistoryEventId = ms.lastCompletedStartedId;
      return result;
    }

    engine.persistTransientWft(exec);
    const completedId = engine.append(
      exec,
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      'workflowTaskCompletedEventAttributes',
      {
        scheduledEventId: wft.scheduledId,
        startedEventId: wft.startedId,
        identity,
        binaryChecksum: req.binaryChecksum || undefined,
        sdkMetadata: req.sdkMetadata ?? undefined,
        meteringMetadata: req.meteringMetadata ?? undefined,
        workerVersion: req.workerVersionStamp ?? undefined,
      },
    ).eventId;
    ms.wft = null;
    ms.lastCompletedStartedId = wft.startedId;
    this.keepSticky(exec, req);

    let needsTask = !!req.forceCreateNewWorkflowTask;
    for (const c of commands) {
      if (!exec.isOpen) break;
      if (c.commandType === CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE) {
        const id = c.protocolMessageCommandAttributes?.messageId;
        const m = messages.get(id);
        if (m) engine.updates.apply(exec, m);
        messages.delete(id);
        continue;
      }
      needsTask = this.apply(exec, c, completedId, identity, result) || needsTask;
    }
    // Messages no command placed (rejections) are processed after all commands, in arrival order.
    for (const m of messages.values()) if (exec.isOpen) engine.updates.apply(exec, m);
    engine.updates.settle(exec, wft.seq);
    if (exec.isOpen) {
      if (engine.flushBuffered(exec) > 0) needsTask = true;
      if (needsTask) engine.scheduleWft(exec);
      else if (engine.updates.hasAdmitted(exec)) engine.scheduleSpeculativeWft(exec);
    }
    for (const action of result.post) action();
    if (exec.isOpen) engine.routeWaitingQueries(exec);
    engine.dirty(exec);
    return result;
  }

  /** A speculative task that changed nothing: no commands, no new events, only update rejections. */
  private discardable(exec: Execution, commands: any[], messages: Map<string, { type: string }>): boolean {
    const wft = exec.ms.wft!;
    if (!wft.speculative || commands.length || exec.buffered.length) return false;
    if (exec.ms.nextEventId !== wft.baseEventId) return false;
    for (const m of messages.values()) if (m.type !== 'temporal.api.update.v1.Rejection') return false;
    return true;
  }

  /** The worker's sticky queue from its completion (none if it sent none). */
  private keepSticky(exec: Execution, req: any): void {
    const stickyQueue = req.stickyAttributes?.workerTaskQueue?.name;
    exec.ms.sticky = stickyQueue
      ? { queue: stickyQueue, timeoutMs: durationMs(req.stickyAttributes.scheduleToStartTimeout) || 5000 }
      : null;
  }

  private validate(exec: Execution, c: any): void {
    switch (c.commandType) {
      case CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        try {
          this.activities.validate(exec, c.scheduleActivityTaskCommandAttributes);
        } catch (err) {
          throw new BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            (err as Error).message,
          );
        }
        return;
      case CommandType.COMMAND_TYPE_START_TIMER: {
        const a = c.startTimerCommandAttributes;
        if (!a?.timerId)
          throw new BadCommand(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES, 'TimerId is not set.');
        if (exec.ms.timers[a.timerId]) {
          throw new BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID,
            `Timer ID "${a.timerId}" is already in use.`,
          );
        }
        return;
      }
      case CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: {
        const a = c.startChildWorkflowExecutionCommandAttributes;
        const bad = (m: string) =>
          new BadCommand(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES, m);
        if (!a?.workflowId) throw bad('WorkflowId is not set on StartChildWorkflowExecutionCommand.');
        if (!a.workflowType?.name) throw bad('WorkflowType is not set on StartChildWorkflowExecutionCommand.');
        if (a.namespace && !this.namespaceExists(a.namespace)) throw bad(`Namespace ${a.namespace} is not found.`);
        return;
      }
      case CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: {
        const a = c.signalExternalWorkflowExecutionCommandAttributes;
        const bad = (m: string) =>
          new BadCommand(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES, m);
        if (!a?.execution?.workflowId) throw bad('WorkflowId is not set on SignalExternalWorkflowExecutionCommand.');
        if (!a.signalName) throw bad('SignalName is not set on SignalExternalWorkflowExecutionCommand.');
        if (a.namespace && !this.namespaceExists(a.namespace)) throw bad(`Namespace ${a.namespace} is not found.`);
        return;
      }
      case CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: {
        const a = c.requestCancelExternalWorkflowExecutionCommandAttributes;
        if (!a?.workflowId) {
          throw new BadCommand(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            'WorkflowId is not set on RequestCancelExternalWorkflowExecutionCommand.',
          );
        }
        return;
      }
      case CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
      case CommandType.COMMAND_TYPE_CANCEL_TIMER:
      case CommandType.COMMAND_TYPE_RECORD_MARKER:
      case CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        try {
          validateSearchAttributes(
            this.searchAttributeTypes,
            c.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes,
          );
        } catch (err) {
          throw new BadCommand(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES, (err as Error).message);
        }
        return;
      case CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
      case CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE:
        return;
      default:
        throw new BadCommand(
          Cause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
          `command type ${enums.CommandType[c.commandType] ?? c.commandType} is not supported by longhaul-server`,
        );
    }
  }

  private namespaceExists(name: string): boolean {
    try {
      this.children.namespaceOf(name);
      return true;
    } catch {
      return false;
    }
  }

  /** Apply one command; returns true when it produced an event the workflow must be told about. */
  private apply(exec: Execution, c: any, completedId: number, identity: string, result: CompletionResult): boolean {
    const engine = this.engine;
    const ms = exec.ms;
    switch (c.commandType) {
      case CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
        const a = c.scheduleActivityTaskCommandAttributes;
        const ai = this.activities.schedule(exec, a, completedId);
        if (a.requestEagerExecution && ai.taskQueue === ms.taskQueue) {
          result.eagerActivities.push(this.activities.startAttempt(exec, ai, identity));
        } else {
          this.activities.dispatch(exec, ai);
        }
        return false;
      }
      case CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return this.activities.requestCancel(
          exec,
          Number(c.requestCancelActivityTaskCommandAttributes.scheduledEventId),
          completedId,
        );
      case CommandType.COMMAND_TYPE_START_TIMER: {
        const a = c.startTimerCommandAttributes;
        const fireAt = engine.clock.now() + durationMs(a.startToFireTimeout);
        const ev = engine.append(exec, EventType.EVENT_TYPE_TIMER_STARTED, 'timerStartedEventAttributes', {
          timerId: a.timerId,
          startToFireTimeout: a.startToFireTimeout,
          workflowTaskCompletedEventId: completedId,
        });
        ms.timers[a.timerId] = { timerId: a.timerId, startedId: ev.eventId, fireAt };
        engine.armUserTimer(exec, a.timerId, ev.eventId, fireAt);
        return false;
      }
      case CommandType.COMMAND_TYPE_CANCEL_TIMER: {
        const a = c.cancelTimerCommandAttributes;
        const t = ms.timers[a.timerId];
        // A timer that fired while this task ran has its TimerFired event still buffered: as in Temporal, the
        // cancel wins and the buffered event is dropped, so the history says what the workflow saw.
        const fired = t
          ? undefined
          : engine.removeBuffered(exec, (ev) => ev.timerFiredEventAttributes?.timerId === a.timerId);
        if (!t && !fired) return false;
        delete ms.timers[a.timerId];
        engine.append(exec, EventType.EVENT_TYPE_TIMER_CANCELED, 'timerCanceledEventAttributes', {
          timerId: a.timerId,
          startedEventId: t ? t.startedId : Number(fired.timerFiredEventAttributes.startedEventId),
          workflowTaskCompletedEventId: completedId,
          identity,
        });
        return false;
      }
      case CommandType.COMMAND_TYPE_RECORD_MARKER: {
        const a = c.recordMarkerCommandAttributes;
        engine.append(exec, EventType.EVENT_TYPE_MARKER_RECORDED, 'markerRecordedEventAttributes', {
          markerName: a.markerName,
          details: a.details,
          workflowTaskCompletedEventId: completedId,
          header: a.header ?? undefined,
          failure: a.failure ?? undefined,
        });
        return false;
      }
      case CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const a = c.upsertWorkflowSearchAttributesCommandAttributes;
        const current = fromB64(SearchAttributes, ms.searchAttributes) as any;
        const merged = {
          indexedFields: { ...(current?.indexedFields ?? {}), ...(a.searchAttributes?.indexedFields ?? {}) },
        };
        ms.searchAttributes = toB64(SearchAttributes, merged);
        engine.append(
          exec,
          EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
          'upsertWorkflowSearchAttributesEventAttributes',
          {
            workflowTaskCompletedEventId: completedId,
            searchAttributes: a.searchAttributes,
          },
        );
        return false;
      }
      case CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
        const a = c.modifyWorkflowPropertiesCommandAttributes;
        const current = fromB64(Memo, ms.memo) as any;
        ms.memo = toB64(Memo, { fields: { ...(current?.fields ?? {}), ...(a.upsertedMemo?.fields ?? {}) } });
        engine.append(
          exec,
          EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
          'workflowPropertiesModifiedEventAttributes',
          {
            workflowTaskCompletedEventId: completedId,
            upsertedMemo: a.upsertedMemo,
          },
        );
        return false;
      }
      case CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
        const res = c.completeWorkflowExecutionCommandAttributes?.result ?? undefined;
        const next = engine.runChain.afterCompletion(exec);
        engine.append(
          exec,
          EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
          'workflowExecutionCompletedEventAttributes',
          {
            result: res,
            workflowTaskCompletedEventId: completedId,
            newExecutionRunId: next?.runId,
          },
        );
        exec.ms.newRunId = next?.runId ?? null;
        engine.close(exec, Status.WORKFLOW_EXECUTION_STATUS_COMPLETED);
        if (next) result.newRun = engine.runChain.start(exec, next, { lastCompletionResult: res });
        return false;
      }
      case CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: {
        const failure = c.failWorkflowExecutionCommandAttributes?.failure ?? undefined;
        const { retryState, next } = engine.runChain.afterFailure(exec, failure);
        engine.append(exec, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, 'workflowExecutionFailedEventAttributes', {
          failure,
          retryState,
          workflowTaskCompletedEventId: completedId,
          newExecutionRunId: next?.runId,
        });
        exec.ms.newRunId = next?.runId ?? null;
        engine.close(exec, Status.WORKFLOW_EXECUTION_STATUS_FAILED);
        if (next) {
          const lastCompletionResult = exec.events[0].workflowExecutionStartedEventAttributes.lastCompletionResult;
          result.newRun = engine.runChain.start(exec, next, { failure, lastCompletionResult });
        }
        return false;
      }
      case CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
        engine.append(
          exec,
          EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
          'workflowExecutionCanceledEventAttributes',
          {
            details: c.cancelWorkflowExecutionCommandAttributes?.details ?? undefined,
            workflowTaskCompletedEventId: completedId,
          },
        );
        engine.close(exec, Status.WORKFLOW_EXECUTION_STATUS_CANCELED);
        return false;
      case CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        result.post.push(
          this.children.initiate(exec, c.startChildWorkflowExecutionCommandAttributes, completedId, identity),
        );
        return false;
      case CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        result.post.push(
          this.children.signalExternal(exec, c.signalExternalWorkflowExecutionCommandAttributes, completedId, identity),
        );
        return false;
      case CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        result.post.push(
          this.children.cancelExternal(exec, c.requestCancelExternalWorkflowExecutionCommandAttributes, completedId),
        );
        return false;
      case CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        result.newRun = this.continueAsNew(
          exec,
          c.continueAsNewWorkflowExecutionCommandAttributes,
          completedId,
          identity,
        );
        return false;
      default:
        return false;
    }
  }

  private continueAsNew(exec: Execution, a: any, completedId: number, identity: string): Execution {
    const engine = this.engine;
    const ms = exec.ms;
    const started = exec.events[0].workflowExecutionStartedEventAttributes;
    const newRunId = randomUUID();
    const workflowType = a.workflowType?.name || ms.workflowType;
    const taskQueue = a.taskQueue?.name || ms.taskQueue;
    const runTimeoutMs = durationMs(a.workflowRunTimeout) || ms.runTimeoutMs;
    const wftTimeoutMs = durationMs(a.workflowTaskTimeout) || ms.wftTimeoutMs;
    const delay = durationMs(a.backoffStartInterval);
    engine.append(
      exec,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
      'workflowExecutionContinuedAsNewEventAttributes',
      {
        newExecutionRunId: newRunId,
        workflowType: { name: workflowType },
        taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        input: a.input ?? undefined,
        workflowRunTimeout: a.workflowRunTimeout ?? started.workflowRunTimeout ?? undefined,
        workflowTaskTimeout: a.workflowTaskTimeout ?? started.workflowTaskTimeout ?? undefined,
        workflowTaskCompletedEventId: completedId,
        backoffStartInterval: a.backoffStartInterval ?? undefined,
        initiator: a.initiator || enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
        failure: a.failure ?? undefined,
        lastCompletionResult: a.lastCompletionResult ?? undefined,
        header: a.header ?? undefined,
        memo: a.memo ?? undefined,
        searchAttributes: a.searchAttributes ?? undefined,
      },
    );
    ms.newRunId = newRunId;
    engine.close(exec, Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);
    return engine.createRun({
      namespace: ms.namespace,
      workflowId: ms.workflowId,
      workflowType,
      taskQueue,
      input: a.input,
      header: a.header,
      memo: a.memo ?? engine.memo(exec),
      searchAttributes: a.searchAttributes ?? engine.searchAttributes(exec),
      retryPolicy: a.retryPolicy ?? started.retryPolicy,
      cronSchedule: a.cronSchedule || started.cronSchedule,
      executionTimeoutMs: ms.executionTimeoutMs,
      runTimeoutMs,
      wftTimeoutMs,
      identity,
      requestId: newRunId,
      runId: newRunId,
      firstTaskDelayMs: delay,
      parent: ms.parent,
      continued: {
        firstRunId: ms.firstRunId,
        previousRunId: ms.runId,
        initiator: a.initiator || enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
        lastCompletionResult: a.lastCompletionResult,
        failure: a.failure,
        executionDeadline: ms.executionDeadline,
      },
    });
  }
}
