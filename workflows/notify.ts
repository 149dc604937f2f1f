// Notifications from job workflows: the final state to the submitter, review requests to reviewers. A failed
// notification is logged, never fails the job, and never blocks a canceled job from ending.
import { CancellationScope, log } from '@temporalio/workflow';
import { notifications } from './activities';
import type { JobStatus, NotifyEvent, NotifyTarget } from './types';

async function send(target: NotifyTarget | undefined, event: NotifyEvent): Promise<void> {
  if (!target) return;
  const channels: NotifyTarget[] = [];
  if (target.email) channels.push({ email: target.email });
  if (target.webhook) channels.push({ webhook: target.webhook });
  await Promise.all(
    channels.map((t) =>
      notifications.notify({ target: t, event }).catch((err) => {
        log.warn('notification failed', { target: t, error: String(err) });
      }),
    ),
  );
}

export function notifyFinished(target: NotifyTarget | undefined, status: JobStatus): Promise<void> {
  return CancellationScope.nonCancellable(() => send(target, { kind: 'finished', status }));
}

export function notifyReview(
  target: NotifyTarget | undefined,
  status: JobStatus,
  stepId: string,
  expiresAt?: string,
): Promise<void> {
  return send(target, { kind: 'review', status, stepId, expiresAt });
}
