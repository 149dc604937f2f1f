// Workflow RPCs: start (with id reuse/conflict policies and request-id idempotency), signal,
// signal-with-start, query, cancel, terminate, describe and history (with long polls).
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ApiError, invalidArgument, type Handler } from '../grpc';
import type { Execution } from '../history/execution';
import type { StartParams } from '../history/engine';
import { startWithPolicies } from '../history/start';
import { validateCron } from '../history/run-chain';
import { checkBlobSize } from '../limits';
import { validateSearchAttributes } from '../visibility/search-attributes';
import { Failure, Payloads, durationMs, enums, fromB64, msToDuration, msToTimestamp } from '../proto';
import { workflowExecutionInfo } from './visibility';
import type { ServerContext } from '../context';

const Status = enums.WorkflowExecutionStatus;
const Conflict = enums.WorkflowIdConflictPolicy;
const HISTORY_LONG_POLL_MS = 20_000;
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
const MAX_ID_LENGTH = 1000;

function startParams(ctx: ServerContext, req: any): StartParams {
  const namespace = ctx.namespaces.get(req.namespace).name;
  if (!req.workflowId) throw invalidArgument('WorkflowId is not set on request.');
  if (req.workflowId.length > MAX_ID_LENGTH) throw invalidArgument('WorkflowId exceeds length limit.');
  if (!req.workflowType?.name) throw invalidArgument('WorkflowType is not set on request.');
  if (!req.taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
  for (const [name, d] of [
    ['WorkflowExecutionTimeout', req.workflowExecutionTimeout],
    ['WorkflowRunTimeout', req.workflowRunTimeout],
    ['WorkflowTaskTimeout', req.workflowTaskTimeout],
  ] as const) {
    if (durationMs(d) < 0) throw invalidArgument(`Invalid ${name}.`);
  }
  if (req.cronSchedule) validateCron(req.cronSchedule);
  checkBlobSize(req.input, 'workflow input');
  validateSearchAttributes(ctx.searchAttributes, req.searchAttributes);
  checkBlobSize(req.memo?.fields ? { payloads: Object.values(req.memo.fields) } : null, 'memo');
  return {
    namespace,
    workflowId: req.workflowId,
    workflowType: req.workflowType.name,
    taskQueue: req.taskQueue.name,
    input: req.input,
    header: req.header,
    memo: req.memo,
    searchAttributes: req.searchAttributes,
    retryPolicy: req.retryPolicy,
    cronSchedule: req.cronSchedule || undefined,
    executionTimeoutMs: durationMs(req.workflowExecutionTimeout),
    runTimeoutMs: durationMs(req.workflowRunTimeout),
    wftTimeoutMs: durationMs(req.workflowTaskTimeout),
    identity: req.identity ?? '',
    requestId: req.requestId || randomUUID(),
    firstTaskDelayMs: durationMs(req.workflowStartDelay),
    lastCompletionResult: req.lastCompletionResult ?? undefined,
    continuedFailure: req.continuedFailure ?? undefined,
  };
}

function startResponse(exec: Execution, started: boolean): any {
  return { runId: exec.ms.runId, started, status: exec.ms.status };
}

/** History events of a run: a page from `from`, or only the close event. */
function historyPage(exec: Execution, from: number, pageSize: number): { events: any[]; next: number } {
  const events = exec.events.slice(from - 1, from - 1 + pageSize);
  return { events, next: from + events.length };
}

function waitForHistory(exec: Execution, ms: number, call: grpc.ServerUnaryCall<any, any>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      exec.historyWaiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    exec.historyWaiters.add(done);
    call.once('cancelled', done);
  });
}

export function workflowHandlers(ctx: ServerContext): Record<string, Handler> {
  const { engine, store } = ctx;
  const nsOf = (req: any) => ctx.namespaces.get(req.namespace).name;

  return {
    StartWorkflowExecution: async (req) => {
      const p = startParams(ctx, req);
      const { exec, started } = startWithPolicies(
        ctx.engine,
        p,
        req.workflowIdReusePolicy,
        req.workflowIdConflictPolicy,
      );
      // Eager start: the caller's own worker takes the first workflow task in this response, saving
      // it a poll round trip; the queued copy of the task is skipped as stale.
      const wft = exec.ms.wft;
      const eager =
        req.requestEagerExecution && started && wft && !wft.startedId && exec.ms.nextEventId === 3
          ? engine.startWft({ runId: exec.ms.runId, scheduledId: wft.seq }, wft.queue, req.identity ?? '')
          : null;
      await store.commit();
      return { ...startResponse(exec, started), eagerWorkflowTask: eager ?? undefined };
    },

    SignalWithStartWorkflowExecution: async (req) => {
      if (!req.signalName) throw invalidArgument('SignalName is not set on request.');
      checkBlobSize(req.signalInput, 'signal input');
      const p = startParams(ctx, req);
      const signal = { signalName: req.signalName, input: req.signalInput, header: req.header, identity: req.identity };
      const cur = engine.find(p.namespace, p.workflowId);
      if (cur?.isOpen) {
        engine.signal(cur, signal);
        await store.commit();
        return { runId: cur.ms.runId, started: false };
      }
      const { exec, started } = startWithPolicies(
        ctx.engine,
        p,
        req.workflowIdReusePolicy,
        Conflict.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
        (e) => engine.signal(e, signal),
      );
      await store.commit();
      return { runId: exec.ms.runId, started };
    },

    SignalWorkflowExecution: async (req) => {
      if (!req.signalName) throw invalidArgument('SignalName is not set on request.');
      checkBlobSize(req.input, 'signal input');
      const exec = engine.get(nsOf(req), req.workflowExecution);
      engine.signal(exec, req);
      await store.commit();
      return {};
    },

    RequestCancelWorkflowExecution: async (req) => {
      const exec = engine.get(nsOf(req), req.workflowExecution);
      engine.requestCancel(exec, req);
      await store.commit();
      return {};
    },

    TerminateWorkflowExecution: async (req) => {
      const exec = engine.get(nsOf(req), req.workflowExecution);
      if (!exec.isOpen) throw new ApiError(grpc.status.NOT_FOUND, 'workflow execution already completed');
      engine.terminate(exec, req.reason ?? '', req.details, req.identity ?? '');
      await store.commit();
      return {};
    },

    QueryWorkflow: async (req, call) => {
      const exec = engine.get(nsOf(req), req.execution);
      if (!req.query?.queryType) throw invalidArgument('QueryType is not set on request.');
      checkBlobSize(req.query.queryArgs, 'query arguments');
      const reject = req.queryRejectCondition;
      const status = exec.ms.status;
      if (
        (reject === enums.QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_OPEN && !exec.isOpen) ||
        (reject === enums.QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY &&
          !exec.isOpen &&
          status !== Status.WORKFLOW_EXECUTION_STATUS_COMPLETED)
      ) {
        return { queryRejected: { status } };
      }
      await store.commit();
      const deadline = call.getDeadline();
      const left =
        deadline instanceof Date ? deadline.getTime() - Date.now() - 200 : Number(deadline) - Date.now() - 200;
      const timeout =
        Number.isFinite(left) && left > 0 ? Math.min(left, DEFAULT_QUERY_TIMEOUT_MS) : DEFAULT_QUERY_TIMEOUT_MS;
      return engine.query(exec, req.query, timeout);
    },

    DescribeWorkflowExecution: async (req) => {
      const exec = engine.get(nsOf(req), req.execution);
      await store.commit();
      const ms = exec.ms;
      const wft = ms.wft;
      return {
        executionConfig: {
          taskQueue: { name: ms.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          workflowExecutionTimeout: msToDuration(ms.executionTimeoutMs),
          workflowRunTimeout: msToDuration(ms.runTimeoutMs),
          defaultWorkflowTaskTimeout: msToDuration(ms.wftTimeoutMs),
        },
        workflowExecutionInfo: workflowExecutionInfo(ctx, exec),
        pendingActivities: Object.values(ms.activities).map((ai) => ({
          activityId: ai.activityId,
          activityType: { name: ai.activityType },
          state: ai.cancelRequested
            ? enums.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
            : ai.started
              ? enums.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
              : enums.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
          heartbeatDetails: fromB64(Payloads, ai.heartbeatDetails) ?? undefined,
          lastHeartbeatTime: ai.heartbeatTime ? msToTimestamp(ai.heartbeatTime) : undefined,
          lastStartedTime: ai.startedTime ? msToTimestamp(ai.startedTime) : undefined,
          attempt: ai.attempt,
          maximumAttempts: ai.retry.maximumAttempts,
          scheduledTime: msToTimestamp(ai.attemptScheduledTime),
          expirationTime: ai.scheduleToCloseMs ? msToTimestamp(ai.scheduledTime + ai.scheduleToCloseMs) : undefined,
          lastFailure: fromB64(Failure, ai.lastFailure) ?? undefined,
          lastWorkerIdentity: ai.startedIdentity,
          nextAttemptScheduleTime: !ai.started && ai.notBefore ? msToTimestamp(ai.notBefore) : undefined,
        })),
        pendingChildren: ctx.children.describe(exec),
        pendingWorkflowTask: wft
          ? {
              state: wft.startedId
                ? enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
                : enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED,
              scheduledTime: msToTimestamp(wft.scheduledTime),
              originalScheduledTime: msToTimestamp(wft.scheduledTime),
              startedTime: wft.startedTime ? msToTimestamp(wft.startedTime) : undefined,
              attempt: wft.attempt,
            }
          : undefined,
      };
    },

    GetWorkflowExecutionHistory: async (req, call) => {
      const exec = engine.get(nsOf(req), req.execution);
      await store.commit();
      const closeOnly =
        req.historyEventFilterType === enums.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
      if (closeOnly) {
        if (exec.isOpen && req.waitNewEvent) await waitForHistory(exec, HISTORY_LONG_POLL_MS, call);
        if (exec.isOpen) return { history: { events: [] }, nextPageToken: Buffer.from('close') };
        return { history: { events: [exec.events[exec.ms.closeEventId - 1]] } };
      }
      const pageSize = req.maximumPageSize > 0 ? Math.min(req.maximumPageSize, 1000) : 1000;
      const from = req.nextPageToken?.length ? Number(Buffer.from(req.nextPageToken).toString()) : 1;
      if (!Number.isInteger(from) || from < 1) throw invalidArgument('invalid next page token');
      if (req.waitNewEvent && exec.isOpen && exec.events.length < from) {
        await waitForHistory(exec, HISTORY_LONG_POLL_MS, call);
      }
      const page = historyPage(exec, from, pageSize);
      const more = page.next <= exec.events.length || (req.waitNewEvent && exec.isOpen);
      return {
        history: { events: page.events },
        nextPageToken: more ? Buffer.from(String(page.next)) : undefined,
      };
    },

    GetWorkflowExecutionHistoryReverse: async (req) => {
      const exec = engine.get(nsOf(req), req.execution);
      await store.commit();
      const pageSize = req.maximumPageSize > 0 ? Math.min(req.maximumPageSize, 1000) : 1000;
      const from = req.nextPageToken?.length ? Number(Buffer.from(req.nextPageToken).toString()) : exec.events.length;
      const start = Math.max(1, from - pageSize + 1);
      const events = exec.events.slice(start - 1, from).reverse();
      return { history: { events }, nextPageToken: start > 1 ? Buffer.from(String(start - 1)) : undefined };
    },

    UpdateWorkflowExecution: async (req, call) => {
      checkBlobSize(req.request?.input?.args, 'update arguments');
      const exec = engine.get(nsOf(req), req.workflowExecution);
      if (req.firstExecutionRunId && exec.ms.firstRunId !== req.firstExecutionRunId) {
        throw new ApiError(grpc.status.NOT_FOUND, 'workflow execution not found for the given first execution run id');
      }
      await store.commit();
      return engine.updates.update(exec, req, call);
    },

    PollWorkflowExecutionUpdate: async (req, call) => {
      const exec = engine.get(nsOf(req), req.updateRef?.workflowExecution);
      await store.commit();
      return engine.updates.poll(exec, req, call);
    },

    // Update-with-start: [StartWorkflow, UpdateWorkflow] as one request.
    ExecuteMultiOperation: async (req, call) => {
      const ops = req.operations ?? [];
      const start = ops[0]?.startWorkflow;
      const update = ops[1]?.updateWorkflow;
      if (ops.length !== 2 || !start || !update) {
        throw invalidArgument('ExecuteMultiOperation supports exactly [StartWorkflow, UpdateWorkflow].');
      }
      if (update.workflowExecution?.workflowId !== start.workflowId || update.workflowExecution?.runId) {
        throw invalidArgument('the update must target the started workflow id, without a run id');
      }
      const p = startParams(ctx, { ...start, namespace: req.namespace });
      const { exec, started } = startWithPolicies(
        ctx.engine,
        p,
        start.workflowIdReusePolicy,
        start.workflowIdConflictPolicy,
      );
      await store.commit();
      const updateResponse = await engine.updates.update(exec, update, call);
      return { responses: [{ startWorkflow: startResponse(exec, started) }, { updateWorkflow: updateResponse }] };
    },

    ResetStickyTaskQueue: async (req) => {
      const exec = engine.get(nsOf(req), req.execution);
      if (exec.ms.sticky) {
        exec.ms.sticky = null;
        engine.dirty(exec);
        await store.commit();
      }
      return {};
    },
  };
}
