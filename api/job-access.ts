// Looking up a job on behalf of a client: a malformed id, an unknown job and another client's job all answer the
// same 404, so ids cannot be probed. Ownership is read from the LonghaulClient search attribute (no worker needed).
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { isJobId } from '../jobs/ids';
import { statusQuery } from '../workflows/definitions';
import { CLIENT_KEY } from '../workflows/search-attributes';
import { isFinal } from '../workflows/states';
import type { JobState, JobStatus } from '../workflows/types';
import type { Principal } from './auth';
import { HttpProblem, noWorker, workerUnavailable } from './problem';

export interface JobRef {
  jobId: string;
  client: Client;
  handle: WorkflowHandle;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, … */
  executionStatus: string;
  /** When executionStatus was read (ms). */
  describedAt: number;
}

/** How long the API waits for a worker to answer the status query. */
export const QUERY_TIMEOUT_MS = 10_000;
/** A running job's execution status is read again when older than this (streams poll for a long time). */
const DESCRIBE_MAX_AGE_MS = 1000;

export async function findJob(client: Client, principal: Principal, jobId: string): Promise<JobRef> {
  const gone = new HttpProblem(404, 'Not Found', `no job ${jobId}`);
  if (!isJobId(jobId)) throw gone;
  let ref: JobRef & { owner?: string };
  try {
    ref = await jobRef(client, jobId);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw gone;
    throw err;
  }
  if (ref.owner === undefined || (ref.owner !== principal.clientId && !principal.admin)) throw gone;
  return ref;
}

/** A job by id, whoever owns it (for callers whose credential is not a client's: signed review links).
 * Throws WorkflowNotFoundError for an unknown id. */
export async function jobRef(client: Client, jobId: string): Promise<JobRef & { owner?: string }> {
  const handle = client.workflow.getHandle(jobId);
  const d = await handle.describe();
  return {
    jobId,
    client,
    handle,
    executionStatus: d.status.name,
    describedAt: Date.now(),
    owner: d.typedSearchAttributes.get(CLIENT_KEY),
  };
}

/**
 * The job's status from its workflow's `status` query, as every route shows it: 503 when no worker answers, and
 * the state corrected for a run that ended without saying so (see effectiveState).
 */
export async function jobStatus(ref: JobRef): Promise<JobStatus> {
  let s: JobStatus;
  try {
    s = await ref.client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => ref.handle.query(statusQuery));
  } catch (err) {
    throw noWorker(err) ? workerUnavailable(ref.jobId) : err;
  }
  if (!isFinal(s.state) && Date.now() - ref.describedAt > DESCRIBE_MAX_AGE_MS) {
    ref.executionStatus = (await ref.handle.describe()).status.name;
    ref.describedAt = Date.now();
  }
  const state = effectiveState(s.state, ref.executionStatus) as JobState;
  return state === s.state ? s : { ...s, state };
}

/** The job's state, corrected for a workflow that ended without saying so (terminated by an operator, or timed
 * out): its last recorded state would otherwise read `running` forever. */
export function effectiveState(state: string | undefined, executionStatus: string): string {
  if (executionStatus === 'RUNNING' || (state && isFinal(state))) return state ?? 'queued';
  if (executionStatus === 'TERMINATED' || executionStatus === 'CANCELLED') return 'canceled';
  if (executionStatus === 'FAILED' || executionStatus === 'TIMED_OUT') return 'failed';
  return state ?? 'queued';
}

/** The links a job representation carries. */
export function jobLinks(jobId: string): Record<string, string> {
  const self = `/v1/jobs/${jobId}`;
  return {
    self,
    events: `${self}/events`,
    cancel: `${self}/cancel`,
    review: `${self}/review`,
    retry: `${self}/retry`,
    stdout: `${self}/logs?stream=stdout`,
    stderr: `${self}/logs?stream=stderr`,
    artifacts: `${self}/artifacts`,
  };
}

/** A job as the API shows it: its status, with `id` and `links`. */
export function apiJob(status: JobStatus): Record<string, unknown> {
  const { jobId, ...rest } = status;
  return { id: jobId, ...rest, links: jobLinks(jobId) };
}
