// Activity stubs with the options each kind of call needs. Tool runs take their timeouts and retry policy from the
// tool's snapshot; housekeeping activities are short and retried for a long time.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { ActivityInterface } from '../activities/interface';
import { toMs } from './durations';
import type { ToolSpec } from './types';

/** Failure types that no further attempt can fix. */
const FINAL_ERRORS = ['BadInput', 'CommandNotFound', 'OutputTooLarge', 'NotConfigured', 'WebhookRejected'];

export function toolActivities(tool: ToolSpec): Pick<ActivityInterface, 'runCommand' | 'httpCall'> {
  const heartbeatMs = toMs(tool.heartbeat);
  const r = tool.retry;
  return proxyActivities<ActivityInterface>({
    startToCloseTimeout: toMs(tool.timeout),
    heartbeatTimeout: heartbeatMs > 0 ? heartbeatMs : undefined,
    // Wait for the process group to be killed before the step counts as canceled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: r.maximumAttempts ?? 3,
      initialInterval: r.initialInterval !== undefined ? toMs(r.initialInterval) : 1000,
      backoffCoefficient: r.backoffCoefficient ?? 2,
      maximumInterval: r.maximumInterval !== undefined ? toMs(r.maximumInterval) : undefined,
      nonRetryableErrorTypes: FINAL_ERRORS,
    },
  });
}

/** Reading items, collecting results, resource bookkeeping: quick, idempotent, retried until they work. */
export const housekeeping = proxyActivities<ActivityInterface>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', maximumInterval: '1 minute', nonRetryableErrorTypes: FINAL_ERRORS },
});

/** Notifications: retried with backoff for up to a day (webhook receivers may be down for a while). */
export const notifications = proxyActivities<ActivityInterface>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 day',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: FINAL_ERRORS,
  },
});
