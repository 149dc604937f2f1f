// Worker-facing RPCs: long polls for workflow and activity tasks, their completions, heartbeats,
// query task answers and worker shutdown.
import { invalidArgument, type Handler } from '../grpc';
import { decodeToken } from '../history/engine';
import { BLOB_SIZE_LIMIT, blobTooLarge, checkBlobSize, payloadBytes } from '../limits';
import type { ServerContext } from '../context';
import type { TaskKind } from '../matching/task-queues';
import type * as grpc from '@grpc/grpc-js';

function pollBudget(ctx: ServerContext, call: grpc.ServerUnaryCall<any, any>): number {
  const d = call.getDeadline();
  const deadline = d instanceof Date ? d.getTime() : Number(d);
  const left = Number.isFinite(deadline) ? deadline - Date.now() - 1000 : Infinity;
  return Math.max(0, Math.min(ctx.pollTimeoutMs, left));
}

export function taskHandlers(ctx: ServerContext): Record<string, Handler> {
  const { engine, activities, commands, matching, store } = ctx;
  const nsOf = (req: any) => ctx.namespaces.get(req.namespace).name;

  /** Wait for a task on a queue and let `start` turn it into a response; stale tasks are skipped. */
  async function poll(
    req: any,
    call: grpc.ServerUnaryCall<any, any>,
    kind: TaskKind,
    start: (task: any, queue: string) => any,
  ): Promise<any> {
    const ns = nsOf(req);
    const queue: string = req.taskQueue?.name;
    if (!queue) throw invalidArgument('TaskQueue is not set on request.');
    const until = Date.now() + pollBudget(ctx, call);
    for (;;) {
      const task = await matching.poll(ns, kind, queue, Math.max(0, until - Date.now()), call);
      if (!task) return {};
      if (call.cancelled) {
        matching.add(ns, kind, queue, task);
        return {};
      }
      const resp = start(task, queue);
      if (!resp) continue;
      await store.commit();
      return resp;
    }
  }

  return {
    PollWorkflowTaskQueue: (req, call) =>
      poll(req, call, 'workflow', (task, queue) =>
        task.queryId ? engine.startQueryTask(task.queryId) : engine.startWft(task, queue, req.identity ?? ''),
      ),

    RespondWorkflowTaskCompleted: async (req) => {
      const exec = engine.wftFromToken(req.taskToken);
      const result = commands.complete(exec, req);
      await store.commit();
      return { activityTasks: result.eagerActivities, resetHistoryEventId: result.resetHistoryEventId };
    },

    RespondWorkflowTaskFailed: async (req) => {
      const exec = engine.wftFromToken(req.taskToken);
      engine.failWft(exec, 'failed', {
        cause: req.cause,
        failure: req.failure ?? undefined,
        identity: req.identity,
        binaryChecksum: req.binaryChecksum,
      });
      await store.commit();
      return {};
    },

    RespondQueryTaskCompleted: (req) => {
      const token = decodeToken(req.taskToken);
      if (token.k !== 'q') throw invalidArgument('invalid task token');
      engine.answerLegacyQuery(token, req);
      return {};
    },

    PollActivityTaskQueue: (req, call) =>
      poll(req, call, 'activity', (task) => activities.start(task, req.identity ?? '')),

    RespondActivityTaskCompleted: async (req) => respondCompleted(req, false),
    RespondActivityTaskCompletedById: async (req) => respondCompleted(req, true),
    RespondActivityTaskFailed: async (req) => respondFailed(req, false),
    RespondActivityTaskFailedById: async (req) => respondFailed(req, true),
    RespondActivityTaskCanceled: async (req) => respondCanceled(req, false),
    RespondActivityTaskCanceledById: async (req) => respondCanceled(req, true),
    RecordActivityTaskHeartbeat: async (req) => heartbeat(req, false),
    RecordActivityTaskHeartbeatById: async (req) => heartbeat(req, true),

    ShutdownWorker: async (req) => {
      const ns = nsOf(req);
      const sticky: string = req.stickyTaskQueue;
      if (sticky) {
        matching.release(ns, 'workflow', sticky);
        for (const exec of engine.openExecutions()) {
          const ms = exec.ms;
          if (ms.sticky?.queue !== sticky) continue;
          ms.sticky = null;
          if (ms.wft && !ms.wft.startedId && ms.wft.queue === sticky) {
            ms.wft.queue = ms.taskQueue;
            ms.wft.sticky = false;
            engine.dispatchWft(exec);
          }
          engine.dirty(exec);
        }
        await store.commit();
      }
      return {};
    },
  };

  async function respondCompleted(req: any, byId: boolean) {
    const { exec, ai } = activities.resolve(nsOf(req), req, byId);
    const size = payloadBytes(req.result);
    if (size > BLOB_SIZE_LIMIT) {
      // As Temporal does: the attempt fails (not retryable) rather than the result entering history.
      activities.failed(exec, ai, blobTooLarge('activity result', size), req.identity ?? '');
    } else {
      activities.completed(exec, ai, req.result, req.identity ?? '');
    }
    await store.commit();
    return {};
  }

  async function respondFailed(req: any, byId: boolean) {
    if (!req.failure) throw invalidArgument('Failure is not set on request.');
    const { exec, ai } = activities.resolve(nsOf(req), req, byId);
    activities.failed(exec, ai, req.failure, req.identity ?? '', req.lastHeartbeatDetails);
    await store.commit();
    return {};
  }

  async function respondCanceled(req: any, byId: boolean) {
    const { exec, ai } = activities.resolve(nsOf(req), req, byId);
    activities.canceled(exec, ai, req.details, req.identity ?? '');
    await store.commit();
    return {};
  }

  async function heartbeat(req: any, byId: boolean) {
    checkBlobSize(req.details, 'heartbeat details');
    const { exec, ai } = activities.resolve(nsOf(req), req, byId);
    const cancelRequested = activities.heartbeat(exec, ai, req.details);
    await store.commit();
    return { cancelRequested, activityPaused: false, activityReset: false };
  }
}
