// The `job` workflow: one tool run. Wait until notBefore (a durable timer), hold the tool's resources, run it with
// its retry policy, optionally wait for a human review, notify, and end with the status as result — or fail or
// end canceled with the status saying why.
import { isCancellation, sleep } from '@temporalio/workflow';
import { jobFailure, toJobError } from './errors';
import { REVIEW_STEP, RUN_STEP, toolJobStatus } from './initial-status';
import { JobTracker, selfId } from './job-tracker';
import { notifyFinished } from './notify';
import { runReview } from './review';
import { runTool } from './tool-step';
import type { JobInput, JobStatus } from './types';

export async function job(input: JobInput): Promise<JobStatus> {
  const review = input.review ?? input.tool.review;
  const t = new JobTracker(toolJobStatus(input));
  try {
    await waitUntil(t, input.notBefore);
    const result = await runTool(
      {
        jobId: input.jobId,
        stepId: RUN_STEP,
        tool: input.tool,
        input: input.input,
        resourceCapacities: input.resourceCapacities,
      },
      {
        onQueued: (reason) => t.queueStep(RUN_STEP, reason),
        onStarted: () => t.startStep(RUN_STEP),
        progressTo: { workflowId: selfId() },
      },
    );
    t.finishStep(RUN_STEP, 'succeeded', { result });
    t.status.result = result;
    if (review) {
      const decision = await runReview(t, REVIEW_STEP, review, input.notify);
      t.finishStep(REVIEW_STEP, 'succeeded', { result: { value: decision } });
    }
    t.setState('succeeded');
  } catch (err) {
    if (isCancellation(err)) {
      endSteps(t, 'canceled');
      t.setState('canceled');
      await notifyFinished(input.notify, t.snapshot());
      throw err;
    }
    if (t.status.state !== 'failed') {
      const error = toJobError(err, RUN_STEP);
      const step = t.step(error.step ?? RUN_STEP);
      if (step && step.state !== 'failed') t.finishStep(step.id, 'failed', { error });
      endSteps(t, 'skipped');
      t.fail(error);
    }
    await notifyFinished(input.notify, t.snapshot());
    throw jobFailure(t.status.error!);
  }
  await notifyFinished(input.notify, t.snapshot());
  return t.snapshot();
}

/** Waits for a notBefore time, showing why the job is queued. */
export async function waitUntil(t: JobTracker, notBefore: string | undefined): Promise<void> {
  if (!notBefore) return;
  const ms = Date.parse(notBefore) - Date.now();
  if (!(ms > 0)) return;
  t.setState('queued', { queuedReason: `not before ${notBefore}` });
  await sleep(ms);
}

/** Marks steps that did not finish: running/queued/awaiting ones as `state`, pending ones as skipped. */
export function endSteps(t: JobTracker, state: 'canceled' | 'skipped'): void {
  for (const s of t.status.steps) {
    if (s.state === 'pending') t.finishStep(s.id, 'skipped');
    else if (s.state === 'running' || s.state === 'queued' || s.state === 'awaiting_review') t.finishStep(s.id, state);
  }
  t.status.review = undefined;
}
