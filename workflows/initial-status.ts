// The status a job starts with, for each job workflow. Pure code: the workflows start from it, and submitting
// answers with it before any worker has run the job.
import type { JobInput, JobMeta, JobStatus, PipelineInput, StepStatus } from './types';

/** Step ids of a tool job: the run, and the review gate when there is one. */
export const RUN_STEP = 'run';
export const REVIEW_STEP = 'review';

export function toolJobStatus(input: JobInput): JobStatus {
  const steps: StepStatus[] = [{ id: RUN_STEP, kind: 'tool', tool: input.tool.name, state: 'pending' }];
  if (input.review ?? input.tool.review) steps.push({ id: REVIEW_STEP, kind: 'review', state: 'pending' });
  return initialStatus(input, 'tool', input.tool.name, steps);
}

/** Steps whose results a redrive reuses start succeeded. */
export function pipelineJobStatus(input: PipelineInput): JobStatus {
  const steps = input.pipeline.steps.map((s): StepStatus => {
    const step: StepStatus = {
      id: s.id,
      kind: s.review ? 'review' : s.forEach ? 'forEach' : 'tool',
      ...(s.tool ? { tool: s.tool } : {}),
      state: 'pending',
    };
    const reused = input.reuse?.[s.id];
    return reused ? { ...step, state: 'succeeded', result: reused, reused: true, progress: 1 } : step;
  });
  return initialStatus(input, 'pipeline', input.pipeline.name, steps);
}

function initialStatus(meta: JobMeta, kind: JobStatus['kind'], name: string, steps: StepStatus[]): JobStatus {
  return {
    jobId: meta.jobId,
    kind,
    name,
    clientId: meta.clientId,
    labels: meta.labels ?? {},
    state: 'queued',
    steps,
    reviews: [],
    createdAt: meta.submittedAt,
    ...(meta.notBefore ? { notBefore: meta.notBefore } : {}),
    ...(meta.retryOf ? { retryOf: meta.retryOf } : {}),
  };
}
