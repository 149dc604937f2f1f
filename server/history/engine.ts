// The history engine: owns every execution's mutable state and history, applies transitions, and
// turns them into persisted events, queued tasks and armed timers. All mutation happens here (and
// in the helpers it calls), synchronously; callers await `store.commit()` before answering.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../clock';
import { ApiError, failedPrecondition, invalidArgument, notFound } from '../grpc';
import type { Matching } from '../matching/task-queues';
import {
  EventType,
  HistoryEvent,
  Memo,
  SearchAttributes,
  durationMs,
  enums,
  fromB64,
  msToDuration,
  msToTimestamp,
  toB64,
} from '../proto';
import type { Store } from '../store/store';
import { Execution } from './execution';
import { RunChain } from './run-chain';
import { Updates } from './updates';
import type { MutableState, ParentInfo } from './state';

const WorkflowExecutionStatus = enums.WorkflowExecutionStatus;
const DEFAULT_WFT_TIMEOUT_MS = 10_000;
const MAX_WFT_TIMEOUT_MS = 120_000;
const CLOSED_CACHE_SIZE = 2000;
const MAX_SIGNAL_REQUEST_IDS = 100;

export interface StartParams {
  namespace: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  input?: any;
  header?: any;
  memo?: any;
  searchAttributes?: any;
  retryPolicy?: any;
  cronSchedule?: string;
  executionTimeoutMs: number;
  runTimeoutMs: number;
  wftTimeoutMs: number;
  identity: string;
  requestId: string;
  /** Set when this run continues an earlier one. */
  continued?: {
    firstRunId: string;
    previousRunId: string;
    initiator: number;
    lastCompletionResult?: any;
    failure?: any;
    executionDeadline: number;
  };
  /** Delay before the first workflow task. */
  firstTaskDelayMs?: number;
  runId?: string;
  /** Set when the run is a child workflow. */
  parent?: ParentInfo | null;
  /** Attempt number under the workflow's RetryPolicy (1 for a first run). */
  attempt?: number;
  /** Handed to a fresh run by its starter (schedules): the previous run's result or failure. */
  lastCompletionResult?: any;
  continuedFailure?: any;
  /** Runs after the started event, before the first workflow task (signal-with-start). */
  beforeFirstTask?: (exec: Execution) => void;
}

export type Logger = {
  info(o: any, msg?: string): void;
  warn(o: any, msg?: string): void;
  error(o: any, msg?: string): void;
};

export class Engine {
  /** Open runs, plus an LRU of recently closed ones. */
  private executions = new Map<string, Execution>();
  private closed = new Map<string, Execution>();
  /** namespace \0 workflowId → current run id. */
  private currentRuns = new Map<string, string>();
  private taskId = 1;
  /** Legacy query tasks waiting for a worker: query id → run id. */
  readonly legacyQueries = new Map<string, string>();
  /** Retries and cron runs that follow a closed run. */
  readonly runChain = new RunChain(this);
  /** Workflow updates (message protocol). */
  readonly updates = new Updates(this);

  constructor(
    readonly store: Store,
    readonly matching: Matching,
    readonly clock: Clock,
    readonly log: Logger,
    /** Hooks into the other transition families (activities, commands), set by the server. */
    readonly hooks: EngineHooks,
  ) {}

  // ---------------------------------------------------------------- lookup and persistence

  private curKey(ns: string, wid: string): string {
    return `${ns}\u0000${wid}`;
  }

  /** The execution, loading it from the store when not in memory; undefined if unknown. */
  find(ns: string, workflowId: string, runId?: string | null): Execution | undefined {
    let rid = runId || this.currentRuns.get(this.curKey(ns, workflowId));
    if (!rid) {
      rid = this.store.currentRunId(ns, workflowId);
      if (!rid) return undefined;
      this.currentRuns.set(this.curKey(ns, workflowId), rid);
    }
    const exec = this.byRunId(rid);
    if (!exec || exec.ms.namespace !== ns || exec.ms.workflowId !== workflowId) return undefined;
    return exec;
  }

  byRunId(runId: string): Execution | undefined {
    const e = this.executions.get(runId) ?? this.closed.get(runId);
    if (e) return e;
    const state = this.store.executionState(runId);
    if (!state) return undefined;
    const exec = this.load(state);
    if (exec.isOpen) this.executions.set(runId, exec);
    else this.rememberClosed(exec);
    return exec;
  }

  /** Like find, but throws NOT_FOUND the way Temporal words it. */
  get(ns: string, execution: { workflowId?: string | null; runId?: string | null } | null | undefined): Execution {
    const wid = execution?.workflowId;
    if (!wid) throw invalidArgument('WorkflowId is not set on request.');
    const exec = this.find(ns, wid, execution?.runId);
    if (!exec) {
      throw notFound(`workflow not found for ID: ${wid}` + (execution?.runId ? ` and run ID: ${execution.runId}` : ''));
    }
    return exec;
  }

  private load(state: string): Execution {
    const ms = JSON.parse(state) as MutableState;
    const events = this.store.eventBytes(ms.runId).map((b) => HistoryEvent.decode(b));
    return new Execution(ms, events);
  }

  private rememberClosed(exec: Execution): void {
    this.closed.delete(exec.ms.runId);
    this.closed.set(exec.ms.runId, exec);
    if (this.closed.size > CLOSED_CACHE_SIZE) {
      const oldest = this.closed.keys().next().value as string;
      const old = this.closed.get(oldest)!;
      if (old.historyWaiters.size === 0 && old.queries.size === 0) this.closed.delete(oldest);
    }
  }

  dirty(exec: Execution): void {
    exec.ms.stateTransitions++;
    this.store.markDirty(exec);
  }

  /** Reload open executions after a restart: queue their pending tasks and re-arm their timers. */
  recover(): number {
    let n = 0;
    for (const state of this.store.openExecutionStates()) {
      const exec = this.load(state);
      this.executions.set(exec.ms.runId, exec);
      this.currentRuns.set(this.curKey(exec.ms.namespace, exec.ms.workflowId), exec.ms.runId);
      const wft = exec.ms.wft;
      if (wft && !wft.startedId) {
        // Sticky workers may be gone: hand pending workflow tasks to the normal queue.
        wft.queue = exec.ms.taskQueue;
        wft.sticky = false;
      }
      this.rearm(exec);
      n++;
    }
    return n;
  }

  private rearm(exec: Execution): void {
    const ms = exec.ms;
    const wft = ms.wft;
    if (wft) {
      if (wft.startedId) this.armWftTimeout(exec);
      else this.dispatchWft(exec);
    } else if (ms.lastCompletedStartedId === 0) {
      // Still in its start delay (or the delay ended just before the crash).
      this.armFirstTask(exec);
    }
    for (const t of Object.values(ms.timers)) this.armUserTimer(exec, t.timerId, t.startedId, t.fireAt);
    this.hooks.rearmActivities(exec);
    this.armRunTimeouts(exec);
  }

  // ---------------------------------------------------------------- events

  nextTaskId(): number {
    return this.taskId++;
  }

  private makeEvent(eventId: number, eventType: number, attrKey: string, attrs: object, time?: number): any {
    return {
      eventId,
      eventTime: msToTimestamp(time ?? this.clock.now()),
      eventType,
      taskId: this.nextTaskId(),
      [attrKey]: attrs,
    };
  }

  private persist(exec: Execution, ev: any): any {
    const bytes = HistoryEvent.encode(ev).finish();
    exec.ms.historySizeBytes += bytes.length;
    exec.events.push(ev);
    this.store.appendEvent(exec.ms.runId, ev.eventId, bytes);
    return ev;
  }

  /** Append an event to the history now. */
  append(exec: Execution, eventType: number, attrKey: string, attrs: object, time?: number): any {
    const ev = this.makeEvent(exec.ms.nextEventId++, eventType, attrKey, attrs, time);
    return this.persist(exec, ev);
  }

  /**
   * Events from outside the workflow's own commands (signal, activity result, timer fired, cancel
   * request): buffered while a workflow task runs, appended otherwise; either way a workflow task
   * is scheduled to deliver them. A group (e.g. activity started + completed) stays together.
   */
  addExternal(exec: Execution, eventType: number, attrKey: string, attrs: object): void {
    this.addExternalGroup(exec, [[eventType, attrKey, attrs]]);
  }

  addExternalGroup(exec: Execution, group: Array<[number, string, object]>): void {
    const ms = exec.ms;
    if (ms.wft?.startedId) {
      for (const [eventType, attrKey, attrs] of group) {
        const ev = this.makeEvent(0, eventType, attrKey, attrs);
        exec.buffered.push(ev);
        ms.buffered.push(toB64(HistoryEvent, ev)!);
      }
    } else {
      const startedIds = new Map<number, number>();
      for (const [eventType, attrKey, attrs] of group) {
        const ev = this.makeEvent(ms.nextEventId++, eventType, attrKey, attrs);
        linkStarted(ev, startedIds);
        this.persist(exec, ev);
      }
      this.scheduleWft(exec);
      this.afterCommitNotify(exec);
    }
    this.dirty(exec);
  }

  /** Takes the first buffered event matching `match` out of the buffer (it will never be written). */
  removeBuffered(exec: Execution, match: (ev: any) => boolean): any | undefined {
    const i = exec.buffered.findIndex(match);
    if (i < 0) return undefined;
    const [ev] = exec.buffered.splice(i, 1);
    exec.ms.buffered.splice(i, 1);
    this.dirty(exec);
    return ev;
  }

  /** Append buffered events in arrival order; returns how many were flushed. */
  flushBuffered(exec: Execution): number {
    const n = exec.buffered.length;
    if (!n) return 0;
    const startedIds = new Map<number, number>();
    for (const ev of exec.buffered) {
      ev.eventId = exec.ms.nextEventId++;
      ev.taskId = this.nextTaskId();
      linkStarted(ev, startedIds);
      this.persist(exec, ev);
    }
    exec.buffered = [];
    exec.ms.buffered = [];
    this.afterCommitNotify(exec);
    return n;
  }

  afterCommitNotify(exec: Execution): void {
    if (exec.historyWaiters.size) this.store.afterCommit(() => exec.notifyHistory());
  }

  // ---------------------------------------------------------------- starting runs

  /** Create a run (after id-policy checks done by the caller). Returns the new execution. */
  createRun(p: StartParams): Execution {
    const now = this.clock.now();
    const runId = p.runId ?? randomUUID();
    const wftTimeoutMs = Math.min(p.wftTimeoutMs || DEFAULT_WFT_TIMEOUT_MS, MAX_WFT_TIMEOUT_MS);
    const executionDeadline = p.continued?.executionDeadline ?? (p.executionTimeoutMs ? now + p.executionTimeoutMs : 0);
    let runTimeoutMs = p.runTimeoutMs;
    if (p.executionTimeoutMs && (!runTimeoutMs || runTimeoutMs > p.executionTimeoutMs))
      runTimeoutMs = p.executionTimeoutMs;
    const delay = p.firstTaskDelayMs ?? 0;
    const ms: MutableState = {
      namespace: p.namespace,
      workflowId: p.workflowId,
      runId,
      firstRunId: p.continued?.firstRunId ?? runId,
      workflowType: p.workflowType,
      taskQueue: p.taskQueue,
      status: WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
      startTime: now,
      executionTime: now + delay,
      closeTime: null,
      nextEventId: 1,
      lastCompletedStartedId: 0,
      startRequestId: p.requestId,
      signalRequestIds: [],
      wftSeq: 0,
      wft: null,
      sticky: null,
      activities: {},
      timers: {},
      children: {},
      parent: p.parent ?? null,
      buffered: [],
      cancelRequested: false,
      wftTimeoutMs,
      runTimeoutMs,
      executionTimeoutMs: p.executionTimeoutMs,
      runDeadline: runTimeoutMs ? now + delay + runTimeoutMs : 0,
      executionDeadline,
      memo: toB64(Memo, p.memo?.fields && Object.keys(p.memo.fields).length ? p.memo : null),
      searchAttributes: toB64(
        SearchAttributes,
        p.searchAttributes?.indexedFields && Object.keys(p.searchAttributes.indexedFields).length
          ? p.searchAttributes
          : null,
      ),
      closeEventId: 0,
      newRunId: null,
      stateTransitions: 0,
      historySizeBytes: 0,
    };
    const exec = new Execution(ms, []);
    this.executions.set(runId, exec);
    this.currentRuns.set(this.curKey(p.namespace, p.workflowId), runId);
    this.store.setCurrentRun(p.namespace, p.workflowId, runId);
    this.append(exec, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 'workflowExecutionStartedEventAttributes', {
      workflowType: { name: p.workflowType },
      parentWorkflowNamespace: p.parent?.namespace,
      parentWorkflowNamespaceId: p.parent?.namespaceId,
      parentWorkflowExecution: p.parent ? { workflowId: p.parent.workflowId, runId: p.parent.runId } : undefined,
      parentInitiatedEventId: p.parent?.initiatedId,
      taskQueue: { name: p.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: p.input ?? undefined,
      header: p.header ?? undefined,
      workflowExecutionTimeout: msToDuration(p.executionTimeoutMs),
      workflowRunTimeout: msToDuration(runTimeoutMs),
      workflowTaskTimeout: msToDuration(wftTimeoutMs),
      continuedExecutionRunId: p.continued?.previousRunId,
      initiator: p.continued?.initiator,
      continuedFailure: p.continued?.failure ?? p.continuedFailure ?? undefined,
      lastCompletionResult: p.continued?.lastCompletionResult ?? p.lastCompletionResult ?? undefined,
      originalExecutionRunId: runId,
      identity: p.identity,
      firstExecutionRunId: ms.firstRunId,
      retryPolicy: p.retryPolicy ?? undefined,
      attempt: p.attempt ?? 1,
      workflowExecutionExpirationTime: executionDeadline ? msToTimestamp(executionDeadline) : undefined,
      cronSchedule: p.cronSchedule || undefined,
      firstWorkflowTaskBackoff: msToDuration(delay),
      memo: p.memo ?? undefined,
      searchAttributes: p.searchAttributes ?? undefined,
      workflowId: p.workflowId,
    });
    p.beforeFirstTask?.(exec);
    if (delay > 0) this.armFirstTask(exec);
    else this.scheduleWft(exec);
    this.armRunTimeouts(exec);
    this.dirty(exec);
    return exec;
  }

  /** A delayed start (start delay, retry back-off, cron): the first workflow task at executionTime. */
  private armFirstTask(exec: Execution): void {
    const runId = exec.ms.runId;
    this.clock.schedule(exec.ms.executionTime, () => {
      const e = this.executions.get(runId);
      if (e?.isOpen && !e.ms.wft && e.ms.lastCompletedStartedId === 0) {
        this.scheduleWft(e);
        this.dirty(e);
      }
    });
  }

  private armRunTimeouts(exec: Execution): void {
    const ms = exec.ms;
    const deadline = [ms.runDeadline, ms.executionDeadline].filter((d) => d > 0);
    if (!deadline.length) return;
    const at = Math.min(...deadline);
    const runId = ms.runId;
    this.clock.schedule(at, () => {
      const e = this.executions.get(runId);
      if (e?.isOpen) this.timeOutWorkflow(e);
    });
  }

  // ---------------------------------------------------------------- workflow tasks

  /** The run's sticky queue if a worker still polls it (else stickiness is dropped). */
  private liveSticky(exec: Execution): { queue: string; timeoutMs: number } | null {
    const ms = exec.ms;
    if (ms.sticky && !this.matching.hasPoller(ms.namespace, 'workflow', ms.sticky.queue, 10_000)) ms.sticky = null;
    return ms.sticky;
  }

  /**
   * A workflow task that only carries updates: transient (no events unless it completes with an
   * effect) and discarded when the worker rejects everything. The first task of a run is never one.
   */
  scheduleSpeculativeWft(exec: Execution): void {
    const ms = exec.ms;
    if (ms.wft || !exec.isOpen) return;
    if (ms.lastCompletedStartedId === 0) return this.scheduleWft(exec);
    const sticky = this.liveSticky(exec);
    ms.wft = {
      seq: ++ms.wftSeq,
      scheduledId: 0,
      startedId: 0,
      attempt: 1,
      scheduledTime: this.clock.now(),
      startedTime: 0,
      queue: sticky ? sticky.queue : ms.taskQueue,
      sticky: !!sticky,
      transient: true,
      speculative: true,
      baseEventId: ms.nextEventId,
      timeoutMs: ms.wftTimeoutMs,
      identity: '',
      requestId: '',
    };
    this.dispatchWft(exec);
  }

  /** Schedule a workflow task if none is pending. */
  scheduleWft(exec: Execution): void {
    const ms = exec.ms;
    if (ms.wft || !exec.isOpen) return;
    // Nothing (not even a signal) runs the first task before a delayed start is due.
    if (ms.lastCompletedStartedId === 0 && ms.executionTime > this.clock.now()) return;
    const sticky = this.liveSticky(exec);
    const queue = sticky ? sticky.queue : ms.taskQueue;
    const now = this.clock.now();
    ms.wft = {
      seq: ++ms.wftSeq,
      scheduledId: 0,
      startedId: 0,
      attempt: 1,
      scheduledTime: now,
      startedTime: 0,
      queue,
      sticky: !!sticky,
      transient: false,
      timeoutMs: ms.wftTimeoutMs,
      identity: '',
      requestId: '',
    };
    ms.wft.scheduledId = this.append(
      exec,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      'workflowTaskScheduledEventAttributes',
      {
        taskQueue: sticky
          ? { name: queue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY, normalName: ms.taskQueue }
          : { name: queue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        startToCloseTimeout: msToDuration(ms.wftTimeoutMs),
        attempt: 1,
      },
    ).eventId;
    this.dispatchWft(exec);
  }

  /** A retry of a failed or timed-out workflow task: transient (no events) until it completes. */
  private retryWft(exec: Execution, attempt: number): void {
    const ms = exec.ms;
    const now = this.clock.now();
    ms.wft = {
      seq: ++ms.wftSeq,
      scheduledId: 0,
      startedId: 0,
      attempt,
      scheduledTime: now,
      startedTime: 0,
      queue: ms.taskQueue,
      sticky: false,
      transient: true,
      timeoutMs: ms.wftTimeoutMs,
      identity: '',
      requestId: '',
    };
    // Back off repeated failures (a workflow bug would otherwise spin), first retry at once.
    const delay = attempt <= 2 ? 0 : Math.min(1000 * 2 ** (attempt - 3), 10 * 60_000);
    if (delay === 0) this.dispatchWft(exec);
    else {
      const seq = ms.wft.seq;
      this.clock.schedule(now + delay, () => {
        const e = this.executions.get(ms.runId);
        if (e?.isOpen && e.ms.wft?.seq === seq && !e.ms.wft.startedId) this.dispatchWft(e);
      });
    }
  }

  dispatchWft(exec: Execution): void {
    const ms = exec.ms;
    const wft = ms.wft!;
    const task = { runId: ms.runId, scheduledId: wft.seq, attempt: wft.attempt };
    const queue = wft.queue;
    this.store.afterCommit(() => this.matching.add(ms.namespace, 'workflow', queue, task));
    if (wft.sticky && ms.sticky) {
      const seq = wft.seq;
      this.clock.schedule(this.clock.now() + ms.sticky.timeoutMs, () => this.onStickyTimeout(ms.runId, seq));
    }
  }

  /** No sticky worker took the task in time: give it to the normal queue (with full history). */
  private onStickyTimeout(runId: string, seq: number): void {
    const exec = this.executions.get(runId);
    const wft = exec?.ms.wft;
    if (!exec || !exec.isOpen || !wft || wft.seq !== seq || wft.startedId || !wft.sticky) return;
    wft.sticky = false;
    wft.queue = exec.ms.taskQueue;
    exec.ms.sticky = null;
    this.dirty(exec);
    this.dispatchWft(exec);
  }

  /**
   * A poller took a workflow task: record it started and build the poll response, or return null
   * if the queued entry is stale.
   */
  startWft(task: { runId: string; scheduledId: number }, queue: string, identity: string): any | null {
    const exec = this.executions.get(task.runId);
    const ms = exec?.ms;
    const wft = ms?.wft;
    if (!exec || !ms || !exec.isOpen || !wft || wft.seq !== task.scheduledId || wft.startedId || wft.queue !== queue) {
      return null;
    }
    const now = this.clock.now();
    wft.startedTime = now;
    wft.identity = identity;
    wft.requestId = randomUUID();
    const transientEvents: any[] = [];
    if (wft.transient) {
      wft.scheduledId = ms.nextEventId;
      wft.startedId = ms.nextEventId + 1;
      transientEvents.push(...this.transientWftEvents(exec));
    } else {
      wft.startedId = this.append(
        exec,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        'workflowTaskStartedEventAttributes',
        {
          scheduledEventId: wft.scheduledId,
          identity,
          requestId: wft.requestId,
          historySizeBytes: ms.historySizeBytes,
        },
      ).eventId;
    }
    this.armWftTimeout(exec);
    this.dirty(exec);
    const queries: Record<string, any> = {};
    for (const q of exec.queries.values()) {
      if (q.state === 'waiting') {
        q.state = 'inflight';
        q.seq = wft.seq;
        queries[q.id] = { queryType: q.queryType, queryArgs: q.queryArgs, header: q.header };
      }
    }
    const from = wft.sticky ? ms.lastCompletedStartedId : 0;
    // A long full history goes in pages: the worker fetches the rest with GetWorkflowExecutionHistory.
    // (Transient task events exist only here, so such a history is sent whole.)
    const page = !wft.sticky && !transientEvents.length ? firstHistoryPage(exec) : null;
    const events = page ? page.events : exec.events.slice(from).concat(transientEvents);
    return {
      nextPageToken: page?.nextPageToken,
      taskToken: encodeToken({ k: 'w', r: ms.runId, s: wft.seq, n: ms.namespace }),
      workflowExecution: { workflowId: ms.workflowId, runId: ms.runId },
      workflowType: { name: ms.workflowType },
      previousStartedEventId: ms.lastCompletedStartedId,
      startedEventId: wft.startedId,
      attempt: wft.attempt,
      backlogCountHint: 0,
      history: { events },
      workflowExecutionTaskQueue: { name: ms.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      scheduledTime: msToTimestamp(wft.scheduledTime),
      startedTime: msToTimestamp(now),
      queries,
      messages: this.updates.messagesFor(exec, wft.seq, wft.startedId),
    };
  }

  private transientWftEvents(exec: Execution): any[] {
    const ms = exec.ms;
    const wft = ms.wft!;
    return [
      this.makeEvent(
        wft.scheduledId,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        'workflowTaskScheduledEventAttributes',
        {
          taskQueue: wft.sticky
            ? { name: wft.queue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY, normalName: ms.taskQueue }
            : { name: ms.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          startToCloseTimeout: msToDuration(wft.timeoutMs),
          attempt: wft.attempt,
        },
        wft.scheduledTime,
      ),
      this.makeEvent(
        wft.startedId,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        'workflowTaskStartedEventAttributes',
        {
          scheduledEventId: wft.scheduledId,
          identity: wft.identity,
          requestId: wft.requestId,
          historySizeBytes: ms.historySizeBytes,
        },
        wft.startedTime,
      ),
    ];
  }

  /** Write a transient task's scheduled/started events for real (it completed or must be recorded). */
  persistTransientWft(exec: Execution): void {
    const wft = exec.ms.wft!;
    if (!wft.transient) return;
    if (exec.ms.nextEventId !== wft.scheduledId) throw new Error('transient workflow task ids out of step');
    for (const ev of this.transientWftEvents(exec)) {
      exec.ms.nextEventId++;
      this.persist(exec, ev);
    }
    wft.transient = false;
  }

  private armWftTimeout(exec: Execution): void {
    const wft = exec.ms.wft!;
    const seq = wft.seq;
    const runId = exec.ms.runId;
    this.clock.schedule(wft.startedTime + wft.timeoutMs, () => {
      const e = this.executions.get(runId);
      if (e?.isOpen && e.ms.wft?.seq === seq && e.ms.wft.startedId) {
        this.log.warn({ workflowId: e.ms.workflowId, runId }, 'workflow task timed out');
        this.failWft(e, 'timeout', {});
      }
    });
  }

  /** Look up the started workflow task a token names, or throw NOT_FOUND. */
  wftFromToken(token: Uint8Array): Execution {
    const t = decodeToken(token);
    if (t.k !== 'w') throw invalidArgument('invalid task token');
    const exec = this.executions.get(t.r);
    const wft = exec?.ms.wft;
    if (!exec || !exec.isOpen || !wft || wft.seq !== t.s || !wft.startedId) {
      throw notFound('Workflow task not found.');
    }
    return exec;
  }

  /**
   * The running workflow task failed (worker report, timeout, or a rejected completion). Records it
   * (for a first attempt or when events wait), then schedules the retry.
   */
  failWft(
    exec: Execution,
    how: 'timeout' | 'failed',
    info: { cause?: number; failure?: any; identity?: string; binaryChecksum?: string },
  ): void {
    const ms = exec.ms;
    const wft = ms.wft!;
    const record = !wft.transient || exec.buffered.length > 0;
    if (record) {
      this.persistTransientWft(exec);
      if (how === 'timeout') {
        this.append(exec, EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, 'workflowTaskTimedOutEventAttributes', {
          scheduledEventId: wft.scheduledId,
          startedEventId: wft.startedId,
          timeoutType: enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
        });
      } else {
        this.append(exec, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, 'workflowTaskFailedEventAttributes', {
          scheduledEventId: wft.scheduledId,
          startedEventId: wft.startedId,
          cause: info.cause,
          failure: info.failure ?? undefined,
          identity: info.identity,
          binaryChecksum: info.binaryChecksum,
        });
      }
    }
    ms.wft = null;
    ms.sticky = null;
    const flushed = this.flushBuffered(exec);
    for (const q of exec.queries.values()) if (q.state === 'inflight') q.state = 'waiting';
    this.updates.redeliver(exec);
    if (flushed > 0) this.scheduleWft(exec);
    else this.retryWft(exec, wft.attempt + 1);
    this.dirty(exec);
  }

  // ---------------------------------------------------------------- timers

  armUserTimer(exec: Execution, timerId: string, startedId: number, fireAt: number): void {
    const runId = exec.ms.runId;
    this.clock.schedule(fireAt, () => {
      const e = this.executions.get(runId);
      const t = e?.ms.timers[timerId];
      if (!e || !e.isOpen || !t || t.startedId !== startedId) return;
      delete e.ms.timers[timerId];
      this.addExternal(e, EventType.EVENT_TYPE_TIMER_FIRED, 'timerFiredEventAttributes', {
        timerId,
        startedEventId: startedId,
      });
    });
  }

  // ---------------------------------------------------------------- closing

  /** Mark the run closed with the given status; the close event was just appended. */
  close(exec: Execution, status: number): void {
    const ms = exec.ms;
    ms.status = status;
    ms.closeTime = this.clock.now();
    ms.closeEventId = ms.nextEventId - 1;
    this.hooks.onClose(exec);
    this.updates.onClose(exec);
    ms.children = {};
    ms.wft = null;
    ms.activities = {};
    ms.timers = {};
    ms.sticky = null;
    this.dirty(exec);
    this.executions.delete(ms.runId);
    this.rememberClosed(exec);
    this.store.afterCommit(() => exec.notifyHistory());
    // Queries still waiting on a workflow task are answered by replay on a worker.
    for (const q of exec.queries.values()) if (q.state !== 'legacy') this.dispatchLegacyQuery(exec, q.id);
  }

  /** Record a forced close (terminate, timeout): fail a running task, flush buffered events. */
  private forceCloseWft(exec: Execution): void {
    const wft = exec.ms.wft;
    if (wft?.startedId && !wft.transient) {
      this.append(exec, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, 'workflowTaskFailedEventAttributes', {
        scheduledEventId: wft.scheduledId,
        startedEventId: wft.startedId,
        cause: enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
      });
    }
    exec.ms.wft = null;
    this.flushBuffered(exec);
  }

  terminate(exec: Execution, reason: string, details: any, identity: string): void {
    this.forceCloseWft(exec);
    this.append(
      exec,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
      'workflowExecutionTerminatedEventAttributes',
      {
        reason,
        details: details ?? undefined,
        identity,
      },
    );
    this.close(exec, WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED);
  }

  private timeOutWorkflow(exec: Execution): void {
    this.forceCloseWft(exec);
    const { retryState, next } = this.runChain.afterFailure(exec, null);
    this.append(exec, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, 'workflowExecutionTimedOutEventAttributes', {
      retryState:
        retryState === enums.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
          ? enums.RetryState.RETRY_STATE_TIMEOUT
          : retryState,
      newExecutionRunId: next?.runId,
    });
    exec.ms.newRunId = next?.runId ?? null;
    this.close(exec, WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT);
    if (next) this.runChain.start(exec, next, {});
  }

  // ---------------------------------------------------------------- signals and cancellation

  signal(
    exec: Execution,
    req: { signalName: string; input?: any; header?: any; identity?: string; requestId?: string },
  ): void {
    if (!exec.isOpen) throw notFound('workflow execution already completed');
    const ms = exec.ms;
    if (req.requestId) {
      if (ms.signalRequestIds.includes(req.requestId)) return;
      ms.signalRequestIds.push(req.requestId);
      if (ms.signalRequestIds.length > MAX_SIGNAL_REQUEST_IDS) ms.signalRequestIds.shift();
    }
    this.addExternal(
      exec,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
      'workflowExecutionSignaledEventAttributes',
      {
        signalName: req.signalName,
        input: req.input ?? undefined,
        identity: req.identity,
        header: req.header ?? undefined,
      },
    );
  }

  requestCancel(exec: Execution, req: { identity?: string; reason?: string }): void {
    if (!exec.isOpen) throw notFound('workflow execution already completed');
    if (exec.ms.cancelRequested) return;
    exec.ms.cancelRequested = true;
    this.addExternal(
      exec,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
      'workflowExecutionCancelRequestedEventAttributes',
      { cause: req.reason, identity: req.identity },
    );
  }

  // ---------------------------------------------------------------- queries

  /** Run a query: with the next workflow task if one is pending, else as a legacy query task. */
  query(exec: Execution, req: { queryType: string; queryArgs?: any; header?: any }, timeoutMs: number): Promise<any> {
    const ms = exec.ms;
    if (!this.matching.hasPoller(ms.namespace, 'workflow', ms.taskQueue, 60_000)) {
      return Promise.reject(
        failedPrecondition(`no worker is polling task queue "${ms.taskQueue}" to answer the query`),
      );
    }
    return new Promise((resolve, reject) => {
      const id = randomUUID();
      const timer = setTimeout(() => {
        exec.queries.delete(id);
        this.legacyQueries.delete(id);
        reject(
          new ApiError(
            grpc.status.DEADLINE_EXCEEDED,
            `query "${req.queryType}" was not answered within ${timeoutMs} ms (is a worker polling "${ms.taskQueue}"?)`,
          ),
        );
      }, timeoutMs);
      exec.queries.set(id, {
        id,
        queryType: req.queryType,
        queryArgs: req.queryArgs ?? undefined,
        header: req.header ?? undefined,
        state: 'waiting',
        seq: 0,
        resolve: (r) => (clearTimeout(timer), exec.queries.delete(id), resolve(r)),
        reject: (e) => (clearTimeout(timer), exec.queries.delete(id), reject(e)),
      });
      if (!exec.isOpen || !ms.wft) this.dispatchLegacyQuery(exec, id);
    });
  }

  dispatchLegacyQuery(exec: Execution, id: string): void {
    const q = exec.queries.get(id);
    if (!q) return;
    q.state = 'legacy';
    this.legacyQueries.set(id, exec.ms.runId);
    this.matching.add(exec.ms.namespace, 'workflow', exec.ms.taskQueue, {
      runId: exec.ms.runId,
      scheduledId: 0,
      attempt: 0,
      queryId: id,
    });
  }

  /** A poller took a legacy query task: the full history plus the query. */
  startQueryTask(queryId: string): any | null {
    const runId = this.legacyQueries.get(queryId);
    if (!runId) return null;
    const exec = this.byRunId(runId);
    const q = exec?.queries.get(queryId);
    if (!exec || !q) return null;
    const ms = exec.ms;
    const page = firstHistoryPage(exec);
    return {
      taskToken: encodeToken({ k: 'q', r: runId, q: queryId, n: ms.namespace }),
      workflowExecution: { workflowId: ms.workflowId, runId },
      workflowType: { name: ms.workflowType },
      previousStartedEventId: ms.lastCompletedStartedId,
      startedEventId: ms.lastCompletedStartedId,
      attempt: 1,
      history: { events: page?.events ?? exec.events },
      nextPageToken: page?.nextPageToken,
      query: { queryType: q.queryType, queryArgs: q.queryArgs, header: q.header },
      workflowExecutionTaskQueue: { name: ms.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      scheduledTime: msToTimestamp(this.clock.now()),
      startedTime: msToTimestamp(this.clock.now()),
    };
  }

  answerLegacyQuery(token: any, req: any): void {
    const runId = this.legacyQueries.get(token.q);
    this.legacyQueries.delete(token.q);
    const exec = runId ? this.byRunId(runId) : undefined;
    const q = exec?.queries.get(token.q);
    if (!q) throw notFound('query not found (it may have timed out)');
    const completed = req.completedType === enums.QueryResultType.QUERY_RESULT_TYPE_ANSWERED;
    if (completed) q.resolve({ queryResult: req.queryResult ?? undefined });
    else q.reject(queryFailed(req.errorMessage, req.failure));
  }

  /** Answers carried by a workflow task completion. */
  answerQueries(exec: Execution, results: Record<string, any> | null | undefined, seq: number): void {
    for (const [id, r] of Object.entries(results ?? {})) {
      const q = exec.queries.get(id);
      if (!q) continue;
      if (r.resultType === enums.QueryResultType.QUERY_RESULT_TYPE_ANSWERED)
        q.resolve({ queryResult: r.answer ?? undefined });
      else q.reject(queryFailed(r.errorMessage, r.failure));
    }
    // Queries sent with this task and not answered go round again.
    for (const q of exec.queries.values()) if (q.state === 'inflight' && q.seq === seq) q.state = 'waiting';
  }

  /** After a task completes: queries still waiting go with the next task, or as query tasks. */
  routeWaitingQueries(exec: Execution): void {
    if (exec.isOpen && exec.ms.wft) return;
    for (const q of exec.queries.values()) if (q.state === 'waiting') this.dispatchLegacyQuery(exec, q.id);
  }

  // ---------------------------------------------------------------- helpers for other modules

  searchAttributes(exec: Execution): any {
    return fromB64(SearchAttributes, exec.ms.searchAttributes);
  }

  memo(exec: Execution): any {
    return fromB64(Memo, exec.ms.memo);
  }

  openExecutions(): IterableIterator<Execution> {
    return this.executions.values();
  }

  durationMs = durationMs;
}

/** What the engine calls in the modules built on it. */
export interface EngineHooks {
  rearmActivities(exec: Execution): void;
  /** A run is closing (its close event is written): tell its parent, apply its children's close policy. */
  onClose(exec: Execution): void;
}

/** Events per page of a full history handed to a worker. */
export const HISTORY_PAGE_SIZE = 1000;

/** The first page of a run's history when it needs more than one (null when one page holds it). */
function firstHistoryPage(exec: Execution): { events: any[]; nextPageToken: Buffer } | null {
  if (exec.events.length <= HISTORY_PAGE_SIZE) return null;
  return {
    events: exec.events.slice(0, HISTORY_PAGE_SIZE),
    nextPageToken: Buffer.from(String(HISTORY_PAGE_SIZE + 1)),
  };
}

/**
 * A completion event written with its started event (activity, child workflow) learns the started
 * event's id only when both get ids: it carries startedEventId -1 until then.
 */
function linkStarted(ev: any, startedIds: Map<number, number>): void {
  const attrs = ev[attributesKey(ev)];
  if (!attrs) return;
  if (ev.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) startedIds.set(attrs.scheduledEventId, ev.eventId);
  else if (attrs.startedEventId === -1) attrs.startedEventId = startedIds.get(attrs.scheduledEventId) ?? 0;
}

export function attributesKey(ev: any): string {
  for (const k of Object.keys(ev)) if (k.endsWith('EventAttributes') && ev[k]) return k;
  return '';
}

function queryFailed(message: string | undefined, failure: any): ApiError {
  return new ApiError(grpc.status.INVALID_ARGUMENT, message || failure?.message || 'query failed', {
    typeName: 'temporal.api.errordetails.v1.QueryFailedFailure',
    value: { failure: failure ?? undefined },
  });
}

// Task tokens: a compact JSON record; the server re-validates every field against mutable state.
export function encodeToken(t: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(t));
}

export function decodeToken(b: Uint8Array | null | undefined): any {
  try {
    const t = JSON.parse(Buffer.from(b ?? []).toString());
    if (t && typeof t === 'object' && typeof t.r === 'string') return t;
  } catch {
    // fall through
  }
  throw invalidArgument('invalid task token');
}
