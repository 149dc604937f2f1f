// Turns what a failed activity or child workflow threw into the small JobError that a job's status carries.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/workflow';
import type { JobError } from './types';

export function toJobError(err: unknown, step?: string): JobError {
  let e = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) {
    const d = (e.details?.[0] ?? {}) as Partial<JobError>;
    return clean({
      message: e.message,
      type: e.type ?? undefined,
      step: d.step ?? step,
      exitCode: typeof d.exitCode === 'number' ? d.exitCode : undefined,
      stderrTail: typeof d.stderrTail === 'string' ? d.stderrTail : undefined,
    });
  }
  if (e instanceof TimeoutFailure) return clean({ message: `timed out (${e.timeoutType})`, type: 'Timeout', step });
  return clean({ message: e instanceof Error ? e.message : String(e), step });
}

/** The failure a job workflow ends with, carrying its JobError. */
export function jobFailure(error: JobError): ApplicationFailure {
  return ApplicationFailure.create({ message: error.message, type: 'JobFailed', nonRetryable: true, details: [error] });
}

function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
