// Holding resources from a job workflow: queue with each resource's lock workflow (in name order, so two jobs
// needing the same pair cannot deadlock), wait for the grants, and always give them back, even when canceled.
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { resourceLockId } from '../activities/resource-ids';
import { housekeeping } from './activities';
import { grantedSignal, releaseSignal } from './definitions';

const granted = new Set<string>();
let handlerInstalled = false;

function installHandler(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  setHandler(grantedSignal, ({ requestId }) => void granted.add(requestId));
}

/**
 * Runs `fn` while holding `needs` (resource → units). `onWait` is told which resource is being waited for.
 */
export async function withResources<T>(
  needs: Record<string, number> | undefined,
  capacities: Record<string, number> | undefined,
  onWait: (resource: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const names = Object.keys(needs ?? {}).sort();
  if (!names.length) return fn();
  installHandler();
  const held: { resource: string; requestId: string }[] = [];
  try {
    for (const resource of names) {
      const requestId = `${workflowInfo().workflowId}/${uuid4()}`;
      held.push({ resource, requestId });
      onWait(resource);
      await housekeeping.requestResource({
        resource,
        capacity: capacities?.[resource] ?? needs![resource],
        request: { requestId, workflowId: workflowInfo().workflowId, units: needs![resource] },
      });
      await condition(() => granted.has(requestId));
    }
    return await fn();
  } finally {
    // Release (or withdraw) everything, even when the job was canceled while waiting or running.
    await CancellationScope.nonCancellable(async () => {
      for (const h of held) {
        granted.delete(h.requestId);
        try {
          await getExternalWorkflowHandle(resourceLockId(h.resource)).signal(releaseSignal, { requestId: h.requestId });
        } catch {
          // No lock workflow: the request never reached it, so there is nothing to give back.
        }
      }
    });
  }
}
