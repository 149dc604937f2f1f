// The mutable state of one workflow run: everything the server must remember between events that
// the history alone does not say cheaply (pending tasks, attempts, deadlines, buffered events).
// It is plain JSON so it can be written as one row per transition; payload-carrying fields are
// protobuf-encoded base64 strings.

export interface WorkflowTaskInfo {
  /** Unique per scheduled workflow task of this run: ties task tokens and queue entries to it. */
  seq: number;
  /** 0 while a retried (transient) task has no persisted scheduled event yet. */
  scheduledId: number;
  startedId: number;
  attempt: number;
  scheduledTime: number;
  startedTime: number;
  /** Task queue name it was dispatched to (the sticky queue, or the run's normal queue). */
  queue: string;
  sticky: boolean;
  /** A retried task whose scheduled/started events are written only if it completes. */
  transient: boolean;
  /**
   * A task created only to deliver updates: if it ends up changing nothing (rejections only, no
   * commands, no new events since `baseEventId`), it is discarded and leaves no events at all.
   */
  speculative?: boolean;
  baseEventId?: number;
  timeoutMs: number;
  identity: string;
  requestId: string;
}

export interface ActivityInfo {
  scheduledId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  attempt: number;
  /** First attempt's scheduled time (schedule-to-close counts from it). */
  scheduledTime: number;
  attemptScheduledTime: number;
  /** Not dispatchable before this time (retry back-off). */
  notBefore: number;
  startedTime: number;
  started: boolean;
  startedIdentity: string;
  startedRequestId: string;
  heartbeatTime: number;
  heartbeatDetails: string | null;
  lastFailure: string | null;
  cancelRequested: boolean;
  cancelRequestedEventId: number;
  scheduleToCloseMs: number;
  scheduleToStartMs: number;
  startToCloseMs: number;
  heartbeatMs: number;
  retry: RetryPolicy;
}

export interface RetryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

export interface TimerInfo {
  timerId: string;
  startedId: number;
  fireAt: number;
}

export interface ChildInfo {
  initiatedId: number;
  startedId: number;
  namespace: string;
  workflowId: string;
  /** First run of the child (the one the parent's Started event names). */
  runId: string;
  workflowType: string;
  parentClosePolicy: number;
}

export interface ParentInfo {
  namespace: string;
  namespaceId: string;
  workflowId: string;
  runId: string;
  initiatedId: number;
}

export interface MutableState {
  namespace: string;
  workflowId: string;
  runId: string;
  firstRunId: string;
  workflowType: string;
  taskQueue: string;
  status: number;
  startTime: number;
  executionTime: number;
  closeTime: number | null;
  nextEventId: number;
  /** Started event id of the last completed workflow task (the SDK's previousStartedEventId). */
  lastCompletedStartedId: number;
  startRequestId: string;
  /** Request ids of signals already applied (bounded), for idempotent retries. */
  signalRequestIds: string[];
  wftSeq: number;
  wft: WorkflowTaskInfo | null;
  sticky: { queue: string; timeoutMs: number } | null;
  activities: Record<string, ActivityInfo>;
  timers: Record<string, TimerInfo>;
  /** Child workflows started by this run and not yet closed, by initiated event id. */
  children: Record<string, ChildInfo>;
  /** Set when this run is a child workflow (kept across continue-as-new). */
  parent: ParentInfo | null;
  /** Events that arrived while a workflow task was running: HistoryEvent bytes (base64) without ids. */
  buffered: string[];
  cancelRequested: boolean;
  wftTimeoutMs: number;
  runTimeoutMs: number;
  executionTimeoutMs: number;
  /** Absolute deadlines (0 = none). */
  runDeadline: number;
  executionDeadline: number;
  memo: string | null;
  searchAttributes: string | null;
  closeEventId: number;
  /** Run started by continue-as-new from this one. */
  newRunId: string | null;
  stateTransitions: number;
  historySizeBytes: number;
}
