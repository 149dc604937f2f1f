// A review step, for tool jobs' review gates and pipelines' review steps alike: ask (notifying the reviewers),
// wait for the decision or the timeout's default, and fail the step on a rejection.
import { ApplicationFailure } from '@temporalio/workflow';
import { toMs } from './durations';
import type { JobTracker } from './job-tracker';
import { notifyReview } from './notify';
import type { NotifyTarget, ReviewRecord, ReviewSpec } from './types';

/** The approval; throws a non-retryable ReviewRejected failure naming the step on a rejection. */
export async function runReview(
  t: JobTracker,
  stepId: string,
  review: ReviewSpec,
  jobNotify: NotifyTarget | undefined,
): Promise<ReviewRecord> {
  const d = await t.awaitReview(stepId, {
    message: review.message,
    timeoutMs: review.timeout !== undefined ? toMs(review.timeout) : undefined,
    default: review.default,
    // Sent alongside the wait, not before it: a slow mail server must not delay the review.
    onRequested: async (r) => void notifyReview(review.notify ?? jobNotify, t.status, stepId, r.expiresAt),
  });
  if (d.decision === 'reject') {
    throw ApplicationFailure.create({
      message: rejectionMessage(d),
      type: 'ReviewRejected',
      nonRetryable: true,
      details: [{ step: stepId }],
    });
  }
  return d;
}

function rejectionMessage(d: { reviewer?: string; comment?: string; via: string }): string {
  const who = d.reviewer ? ` by ${d.reviewer}` : d.via === 'timeout' ? ' (review timed out)' : '';
  return `rejected${who}${d.comment ? `: ${d.comment}` : ''}`;
}
