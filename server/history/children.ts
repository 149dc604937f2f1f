// Child workflows and commands aimed at other workflows (signal / cancel external). In this
// single-process server the "transfer" side of each command (starting the child, delivering the
// signal) runs in the same transaction as the workflow task that issued it, after all of that
// task's command events are written, so no transfer queue is needed and nothing is lost on a crash.
import { ApiError } from '../grpc';
import type { Namespaces } from '../namespaces';
import { EventType, durationMs, enums } from '../proto';
import type { Engine } from './engine';
import type { Execution } from './execution';
import { startWithPolicies } from './start';
import type { ChildInfo } from './state';

const Status = enums.WorkflowExecutionStatus;
const ParentClosePolicy = enums.ParentClosePolicy;

/** Work to do once all of a completion's command events are written. */
export type PostAction = () => void;

export class Children {
  constructor(
    private readonly engine: Engine,
    private readonly namespaces: Namespaces,
  ) {}

  /** The namespace record (NOT_FOUND if unknown). */
  namespaceOf(name: string) {
    return this.namespaces.get(name);
  }

  /** StartChildWorkflowExecution: write Initiated now; start the child after the task's events. */
  initiate(exec: Execution, a: any, completedId: number, identity: string): PostAction {
    const engine = this.engine;
    const ms = exec.ms;
    const namespace = a.namespace || ms.namespace;
    const ns = this.namespaces.get(namespace);
    const taskQueue = a.taskQueue?.name || ms.taskQueue;
    const ev = engine.append(
      exec,
      EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
      'startChildWorkflowExecutionInitiatedEventAttributes',
      {
        namespace,
        namespaceId: ns.id,
        workflowId: a.workflowId,
        workflowType: a.workflowType,
        taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        input: a.input ?? undefined,
        workflowExecutionTimeout: a.workflowExecutionTimeout ?? undefined,
        workflowRunTimeout: a.workflowRunTimeout ?? undefined,
        workflowTaskTimeout: a.workflowTaskTimeout ?? undefined,
        parentClosePolicy: a.parentClosePolicy,
        control: a.control || undefined,
        workflowTaskCompletedEventId: completedId,
        workflowIdReusePolicy: a.workflowIdReusePolicy,
        retryPolicy: a.retryPolicy ?? undefined,
        cronSchedule: a.cronSchedule || undefined,
        header: a.header ?? undefined,
        memo: a.memo ?? undefined,
        searchAttributes: a.searchAttributes ?? undefined,
      },
    );
    const initiatedId = ev.eventId;
    return () => {
      if (!exec.isOpen) return;
      let child: Execution;
      try {
        const r = startWithPolicies(
          engine,
          {
            namespace,
            workflowId: a.workflowId,
            workflowType: a.workflowType.name,
            taskQueue,
            input: a.input,
            header: a.header,
            memo: a.memo,
            searchAttributes: a.searchAttributes,
            retryPolicy: a.retryPolicy,
            executionTimeoutMs: durationMs(a.workflowExecutionTimeout),
            runTimeoutMs: durationMs(a.workflowRunTimeout),
            wftTimeoutMs: durationMs(a.workflowTaskTimeout),
            identity,
            // Deterministic, so a retried start of the same initiation is recognised.
            requestId: `${ms.runId}:${initiatedId}`,
            parent: {
              namespace: ms.namespace,
              namespaceId: this.namespaces.get(ms.namespace).id,
              workflowId: ms.workflowId,
              runId: ms.runId,
              initiatedId,
            },
          },
          a.workflowIdReusePolicy,
          enums.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
        );
        child = r.exec;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        engine.addExternal(
          exec,
          EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
          'startChildWorkflowExecutionFailedEventAttributes',
          {
            namespace,
            namespaceId: ns.id,
            workflowId: a.workflowId,
            workflowType: a.workflowType,
            cause:
              enums.StartChildWorkflowExecutionFailedCause
                .START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS,
            control: a.control || undefined,
            initiatedEventId: initiatedId,
            workflowTaskCompletedEventId: completedId,
          },
        );
        return;
      }
      const info: ChildInfo = {
        initiatedId,
        startedId: 0,
        namespace,
        workflowId: a.workflowId,
        runId: child.ms.runId,
        workflowType: a.workflowType.name,
        parentClosePolicy: a.parentClosePolicy || ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
      };
      ms.children[initiatedId] = info;
      engine.addExternal(
        exec,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        'childWorkflowExecutionStartedEventAttributes',
        {
          namespace,
          namespaceId: ns.id,
          initiatedEventId: initiatedId,
          workflowExecution: { workflowId: a.workflowId, runId: child.ms.runId },
          workflowType: a.workflowType,
          header: a.header ?? undefined,
        },
      );
    };
  }

  /** A run closed: report to its parent (unless it continued as new) and apply its children's policy. */
  onClose(exec: Execution): void {
    const ms = exec.ms;
    for (const child of Object.values(ms.children)) this.applyParentClosePolicy(exec, child);
    // A run that continues (continue-as-new, retry, cron) reports nothing: its last run will.
    if (ms.parent && !ms.newRunId) this.reportToParent(exec);
  }

  private applyParentClosePolicy(parent: Execution, child: ChildInfo): void {
    const c = this.engine.find(child.namespace, child.workflowId);
    if (!c || !c.isOpen || c.ms.firstRunId !== child.runId) return;
    if (child.parentClosePolicy === ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE) {
      this.engine.terminate(c, 'by parent close policy', undefined, parent.ms.workflowId);
    } else if (child.parentClosePolicy === ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL) {
      this.engine.requestCancel(c, { identity: parent.ms.workflowId, reason: 'by parent close policy' });
    }
  }

  private reportToParent(exec: Execution): void {
    const ms = exec.ms;
    const p = ms.parent!;
    const parent = this.engine.byRunId(p.runId);
    const info = parent?.ms.children[p.initiatedId];
    if (!parent || !parent.isOpen || !info) return;
    delete parent.ms.children[p.initiatedId];
    const close = exec.events[ms.closeEventId - 1];
    const common = {
      namespace: ms.namespace,
      namespaceId: this.namespaces.get(ms.namespace).id,
      workflowExecution: { workflowId: ms.workflowId, runId: info.runId },
      workflowType: { name: info.workflowType },
      initiatedEventId: info.initiatedId,
      startedEventId: info.startedId > 0 ? info.startedId : this.startedIdOf(parent, info.initiatedId),
    };
    let type: number;
    let key: string;
    let attrs: object;
    switch (ms.status) {
      case Status.WORKFLOW_EXECUTION_STATUS_COMPLETED:
        type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED;
        key = 'childWorkflowExecutionCompletedEventAttributes';
        attrs = { result: close.workflowExecutionCompletedEventAttributes?.result ?? undefined };
        break;
      case Status.WORKFLOW_EXECUTION_STATUS_FAILED:
        type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED;
        key = 'childWorkflowExecutionFailedEventAttributes';
        attrs = {
          failure: close.workflowExecutionFailedEventAttributes?.failure ?? undefined,
          retryState: close.workflowExecutionFailedEventAttributes?.retryState,
        };
        break;
      case Status.WORKFLOW_EXECUTION_STATUS_CANCELED:
        type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED;
        key = 'childWorkflowExecutionCanceledEventAttributes';
        attrs = { details: close.workflowExecutionCanceledEventAttributes?.details ?? undefined };
        break;
      case Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
        type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT;
        key = 'childWorkflowExecutionTimedOutEventAttributes';
        attrs = { retryState: close.workflowExecutionTimedOutEventAttributes?.retryState };
        break;
      default:
        type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED;
        key = 'childWorkflowExecutionTerminatedEventAttributes';
        attrs = {};
    }
    this.engine.addExternal(parent, type, key, { ...common, ...attrs });
  }

  /** Id of the ChildWorkflowExecutionStarted event for an initiation (searched when it was buffered). */
  private startedIdOf(parent: Execution, initiatedId: number): number {
    for (let i = parent.events.length - 1; i >= 0; i--) {
      const a = parent.events[i].childWorkflowExecutionStartedEventAttributes;
      if (a && Number(a.initiatedEventId) === initiatedId) return Number(parent.events[i].eventId);
    }
    return 0;
  }

  /** SignalExternalWorkflowExecution: Initiated now, the signal after the task's events. */
  signalExternal(exec: Execution, a: any, completedId: number, identity: string): PostAction {
    return this.external(exec, {
      namespace: a.namespace || exec.ms.namespace,
      target: { workflowId: a.execution?.workflowId ?? '', runId: a.execution?.runId || undefined },
      a,
      completedId,
      initiated: [
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        'signalExternalWorkflowExecutionInitiatedEventAttributes',
        { signalName: a.signalName, input: a.input ?? undefined, header: a.header ?? undefined },
      ],
      failed: [
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
        'signalExternalWorkflowExecutionFailedEventAttributes',
        enums.SignalExternalWorkflowExecutionFailedCause
          .SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
      ],
      done: [
        EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
        'externalWorkflowExecutionSignaledEventAttributes',
      ],
      act: (t, initiatedId) =>
        this.engine.signal(t, {
          signalName: a.signalName,
          input: a.input,
          header: a.header,
          identity,
          requestId: `${exec.ms.runId}:${initiatedId}`,
        }),
    });
  }

  /** RequestCancelExternalWorkflowExecution (also how the SDK cancels a child). */
  cancelExternal(exec: Execution, a: any, completedId: number): PostAction {
    return this.external(exec, {
      namespace: a.namespace || exec.ms.namespace,
      target: { workflowId: a.workflowId ?? '', runId: a.runId || undefined },
      a,
      completedId,
      initiated: [
        EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        'requestCancelExternalWorkflowExecutionInitiatedEventAttributes',
        { reason: a.reason || undefined },
      ],
      failed: [
        EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
        'requestCancelExternalWorkflowExecutionFailedEventAttributes',
        enums.CancelExternalWorkflowExecutionFailedCause
          .CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
      ],
      done: [
        EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
        'externalWorkflowExecutionCancelRequestedEventAttributes',
      ],
      act: (t, initiatedId) => {
        if (t.ms.cancelRequested) return;
        t.ms.cancelRequested = true;
        this.engine.addExternal(
          t,
          EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
          'workflowExecutionCancelRequestedEventAttributes',
          {
            cause: a.reason || undefined,
            externalInitiatedEventId: initiatedId,
            externalWorkflowExecution: { workflowId: exec.ms.workflowId, runId: exec.ms.runId },
            identity: exec.ms.workflowId,
          },
        );
      },
    });
  }

  /**
   * The shape shared by commands aimed at another workflow: an Initiated event now; after the task's
   * events, either the effect on the target plus a "done" event, or a Failed event (target not found).
   */
  private external(
    exec: Execution,
    o: {
      namespace: string;
      target: { workflowId: string; runId?: string };
      a: any;
      completedId: number;
      initiated: [number, string, object];
      failed: [number, string, number];
      done: [number, string];
      act: (target: Execution, initiatedId: number) => void;
    },
  ): PostAction {
    const engine = this.engine;
    const namespaceId = this.namespaces.get(o.namespace).id;
    const common = { namespace: o.namespace, namespaceId, control: o.a.control || undefined };
    const [type, key, attrs] = o.initiated;
    const initiatedId = engine.append(exec, type, key, {
      ...common,
      ...attrs,
      workflowTaskCompletedEventId: o.completedId,
      workflowExecution: o.target,
      childWorkflowOnly: o.a.childWorkflowOnly,
    }).eventId;
    return () => {
      if (!exec.isOpen) return;
      const t = this.target(exec, o.namespace, o.target, o.a.childWorkflowOnly);
      if (!t) {
        engine.addExternal(exec, o.failed[0], o.failed[1], {
          ...common,
          cause: o.failed[2],
          workflowTaskCompletedEventId: o.completedId,
          workflowExecution: o.target,
          initiatedEventId: initiatedId,
        });
        return;
      }
      o.act(t, initiatedId);
      engine.addExternal(exec, o.done[0], o.done[1], {
        ...common,
        initiatedEventId: initiatedId,
        workflowExecution: { workflowId: t.ms.workflowId, runId: t.ms.runId },
      });
    };
  }

  /** The open target of an external command, or undefined (also when childWorkflowOnly excludes it). */
  private target(
    exec: Execution,
    namespace: string,
    t: { workflowId: string; runId?: string },
    childOnly: boolean,
  ): Execution | undefined {
    const target = this.engine.find(namespace, t.workflowId, t.runId);
    if (!target || !target.isOpen) return undefined;
    if (childOnly && target.ms.parent?.runId !== exec.ms.runId) return undefined;
    return target;
  }

  /** Pending children for DescribeWorkflowExecution. */
  describe(exec: Execution): any[] {
    return Object.values(exec.ms.children).map((c) => ({
      workflowId: c.workflowId,
      runId: c.runId,
      workflowTypeName: c.workflowType,
      initiatedId: c.initiatedId,
      parentClosePolicy: c.parentClosePolicy,
    }));
  }
}
