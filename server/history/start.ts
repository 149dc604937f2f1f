// Starting a run under Temporal's workflow id rules: request-id idempotency, the reuse policy for a
// closed previous run and the conflict policy for a running one. Used by client starts and child starts.
import * as grpc from '@grpc/grpc-js';
import { ApiError } from '../grpc';
import { enums } from '../proto';
import type { Engine, StartParams } from './engine';
import type { Execution } from './execution';

const Status = enums.WorkflowExecutionStatus;
const Reuse = enums.WorkflowIdReusePolicy;
const Conflict = enums.WorkflowIdConflictPolicy;

export function alreadyStarted(exec: Execution, what: string): ApiError {
  return new ApiError(
    grpc.status.ALREADY_EXISTS,
    `${what} WorkflowId: ${exec.ms.workflowId}, RunId: ${exec.ms.runId}.`,
    {
      typeName: 'temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure',
      value: { startRequestId: exec.ms.startRequestId, runId: exec.ms.runId },
    },
  );
}

/**
 * Start a run unless the id policies say otherwise. Returns the run to report and whether it was
 * started by this request.
 */
export function startWithPolicies(
  engine: Engine,
  p: StartParams,
  reuse: number,
  conflict: number,
  beforeFirstTask?: (exec: Execution) => void,
): { exec: Execution; started: boolean } {
  const cur = engine.find(p.namespace, p.workflowId);
  if (cur) {
    if (cur.ms.startRequestId === p.requestId) return { exec: cur, started: true };
    if (cur.isOpen) {
      if (conflict === Conflict.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) return { exec: cur, started: false };
      if (
        conflict === Conflict.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING ||
        reuse === Reuse.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING
      ) {
        engine.terminate(cur, 'terminated by a new start with the same workflow id', undefined, p.identity);
      } else {
        throw alreadyStarted(cur, 'Workflow execution is already running.');
      }
    } else if (reuse === Reuse.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE) {
      throw alreadyStarted(cur, 'Workflow execution already finished and the reuse policy rejects duplicates.');
    } else if (
      reuse === Reuse.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY &&
      (cur.ms.status === Status.WORKFLOW_EXECUTION_STATUS_COMPLETED ||
        cur.ms.status === Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
    ) {
      throw alreadyStarted(cur, 'Workflow execution already finished successfully.');
    }
  }
  const exec = engine.createRun({ ...p, beforeFirstTask });
  return { exec, started: true };
}
