// Looking up a job on behalf of a client: a malformed id, an unknown job and another client's job all answer the
// same 404, so ids cannot be probed. Ownership is read from the LonghaulClient search attribute (no worker needed).
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { isJobId } from '../jobs/ids';
import { statusQuery } from '../workflows/definitions';
import { CLIENT_KEY } from '../workflows/search-attributes';
import type { JobStatus } from '../workflows/types';
import type { Principal } from './auth';
import { HttpProblem } from './problem';

export interface JobRef {
  jobId: string;
  handle: WorkflowHandle;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, … */
  executionStatus: string;
}

export async function findJob(client: Client, principal: Principal, jobId: string): Promise<JobRef> {
  const gone = new HttpProblem(404, 'Not Found', `no job ${jobId}`);
  if (!isJobId(jobId)) throw gone;
  const handle = client.workflow.getHandle(jobId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw gone;
    throw err;
  }
  const owner = d.typedSearchAttributes.get(CLIENT_KEY);
  if (owner === undefined || (owner !== principal.clientId && !principal.admin)) throw gone;
  return { jobId, handle, executionStatus: d.status.name };
}

export async function jobStatus(ref: JobRef): Promise<JobStatus> {
  return ref.handle.query(statusQuery);
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
