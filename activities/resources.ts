// Activities behind resource locks: a lock is a workflow per resource (workflows/resource-lock.ts); these reach it
// with signal-with-start, and tell it which holders have died so that nothing stays held by a terminated job.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ResourceRequest } from '../workflows/definitions';
import type { ActivityDeps } from './deps';
import { resourceLockId } from './resource-ids';

export function createResourceActivities(deps: ActivityDeps) {
  const client = () => {
    if (!deps.client) throw new Error('resource activities need a Temporal client');
    return deps.client;
  };
  return {
    async requestResource(req: { resource: string; capacity: number; request: ResourceRequest }): Promise<void> {
      await client().workflow.signalWithStart('resourceLock', {
        workflowId: resourceLockId(req.resource),
        taskQueue: Context.current().info.taskQueue,
        args: [
          {
            resource: req.resource,
            capacity: req.capacity,
            holders: [],
            waiters: [],
            checkIntervalMs: deps.resourceCheckIntervalMs,
          },
        ],
        signal: 'acquire',
        signalArgs: [{ ...req.request, capacity: req.capacity }],
      });
    },

    async findClosedWorkflows(workflowIds: string[]): Promise<string[]> {
      const closed: string[] = [];
      for (const id of workflowIds) {
        try {
          const d = await client().workflow.getHandle(id).describe();
          if (d.status.name !== 'RUNNING') closed.push(id);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) closed.push(id);
          else throw err;
        }
      }
      return closed;
    },
  };
}
