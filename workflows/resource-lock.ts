// One workflow per resource (id longhaul-resource-<name>) hands out its capacity first come, first served.
// Its state lives in its history, so a crash of any process neither loses a queued request nor leaks a held unit;
// holders that end without releasing (terminated, say) are found by a periodic check while others wait.
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { housekeeping } from './activities';
import { acquireSignal, grantedSignal, releaseSignal, type ResourceRequest } from './definitions';

export interface ResourceLockState {
  resource: string;
  capacity: number;
  holders: ResourceRequest[];
  waiters: ResourceRequest[];
  /** How often holders are checked for liveness while requests wait (default 60 s). */
  checkIntervalMs?: number;
}

/** While requests wait, holders are checked for liveness this often (unless the state says otherwise). */
const HOLDER_CHECK_MS = 60_000;
const MAX_HISTORY = 2_000;

export async function resourceLock(state: ResourceLockState): Promise<void> {
  const { resource } = state;
  let holders = state.holders;
  let waiters = state.waiters;
  let capacity = state.capacity;
  let changed = false;

  setHandler(acquireSignal, (req) => {
    capacity = req.capacity; // the latest configured capacity wins
    const known =
      holders.some((h) => h.requestId === req.requestId) || waiters.some((w) => w.requestId === req.requestId);
    if (!known) waiters.push({ requestId: req.requestId, workflowId: req.workflowId, units: req.units });
    changed = true;
  });
  setHandler(releaseSignal, ({ requestId }) => {
    holders = holders.filter((h) => h.requestId !== requestId);
    waiters = waiters.filter((w) => w.requestId !== requestId);
    changed = true;
  });

  const used = () => holders.reduce((n, h) => n + h.units, 0);

  for (;;) {
    // Grant strictly in arrival order: a large request at the head is not overtaken by smaller ones.
    while (waiters.length && used() + waiters[0].units <= capacity) {
      const next = waiters.shift()!;
      holders.push(next);
      try {
        await getExternalWorkflowHandle(next.workflowId).signal(grantedSignal, { resource, requestId: next.requestId });
      } catch (err) {
        log.warn('resource holder is gone; releasing', { resource, requestId: next.requestId, error: String(err) });
        holders = holders.filter((h) => h.requestId !== next.requestId);
      }
    }
    if (workflowInfo().historyLength > MAX_HISTORY || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof resourceLock>({ ...state, capacity, holders, waiters });
    }
    changed = false;
    if (waiters.length) {
      const signalled = await condition(() => changed, state.checkIntervalMs ?? HOLDER_CHECK_MS);
      if (!signalled) {
        const ids = [...new Set([...holders, ...waiters].map((r) => r.workflowId))];
        const closed = new Set(await housekeeping.findClosedWorkflows(ids));
        if (closed.size) {
          log.warn('releasing requests of closed workflows', { resource, workflows: [...closed] });
          holders = holders.filter((h) => !closed.has(h.workflowId));
          waiters = waiters.filter((w) => !closed.has(w.workflowId));
        }
      }
    } else {
      await condition(() => changed);
    }
  }
}
