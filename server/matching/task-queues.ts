// Matching: in-memory task queues with long-poll waiters. A task here is only a pointer into an
// execution's mutable state (the durable record); the engine re-validates it when a poller takes it,
// so stale entries (a task already timed out, retried or completed) are simply skipped.

export type TaskKind = 'workflow' | 'activity';

export interface QueuedTask {
  runId: string;
  /** Scheduled event id of the workflow or activity task. */
  scheduledId: number;
  attempt: number;
  /** Set for a legacy query task (a query dispatched outside a workflow task). */
  queryId?: string;
}

interface Poller {
  resolve: (t: QueuedTask | null) => void;
  done: boolean;
}

class Queue {
  backlog: QueuedTask[] = [];
  head = 0;
  pollers: Poller[] = [];
  lastPollTime = 0;

  take(): QueuedTask | undefined {
    if (this.head >= this.backlog.length) return undefined;
    const t = this.backlog[this.head++];
    if (this.head > 1024 && this.head * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.head);
      this.head = 0;
    }
    return t;
  }

  get size(): number {
    return this.backlog.length - this.head;
  }
}

export interface PollSignal {
  cancelled?: boolean;
  once?(event: 'cancelled', fn: () => void): unknown;
}

export class Matching {
  private queues = new Map<string, Queue>();

  constructor(private readonly now: () => number) {}

  private queue(ns: string, kind: TaskKind, name: string): Queue {
    const key = `${ns}\u0000${kind}\u0000${name}`;
    let q = this.queues.get(key);
    if (!q) {
      q = new Queue();
      this.queues.set(key, q);
    }
    return q;
  }

  /** Hand the task to a waiting poller, or keep it in the backlog. */
  add(ns: string, kind: TaskKind, name: string, task: QueuedTask): void {
    const q = this.queue(ns, kind, name);
    while (q.pollers.length) {
      const p = q.pollers.shift()!;
      if (p.done) continue;
      p.done = true;
      p.resolve(task);
      return;
    }
    q.backlog.push(task);
  }

  /** Long poll: a task, or null when `timeoutMs` passes or the call is cancelled. */
  poll(ns: string, kind: TaskKind, name: string, timeoutMs: number, signal?: PollSignal): Promise<QueuedTask | null> {
    const q = this.queue(ns, kind, name);
    q.lastPollTime = this.now();
    const t = q.take();
    if (t) return Promise.resolve(t);
    if (signal?.cancelled) return Promise.resolve(null);
    return new Promise((resolve) => {
      const poller: Poller = {
        done: false,
        resolve: (task) => {
          clearTimeout(timer);
          q.lastPollTime = this.now();
          resolve(task);
        },
      };
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        if (poller.done) return;
        poller.done = true;
        clearTimeout(timer);
        const i = q.pollers.indexOf(poller);
        if (i >= 0) q.pollers.splice(i, 1);
        resolve(null);
      };
      signal?.once?.('cancelled', finish);
      q.pollers.push(poller);
    });
  }

  /** Whether a worker polled this queue within `withinMs` (or is polling now). */
  hasPoller(ns: string, kind: TaskKind, name: string, withinMs: number): boolean {
    const q = this.queues.get(`${ns}\u0000${kind}\u0000${name}`);
    if (!q) return false;
    return q.pollers.some((p) => !p.done) || this.now() - q.lastPollTime <= withinMs;
  }

  /** Take every backlog task out of a queue (used to move a dead sticky queue's tasks). */
  drain(ns: string, kind: TaskKind, name: string): QueuedTask[] {
    const q = this.queues.get(`${ns}\u0000${kind}\u0000${name}`);
    if (!q) return [];
    const tasks = q.backlog.slice(q.head);
    q.backlog = [];
    q.head = 0;
    return tasks;
  }

  /** End the long polls waiting on a queue (worker shutdown) and forget the queue. */
  release(ns: string, kind: TaskKind, name: string): void {
    const key = `${ns}\u0000${kind}\u0000${name}`;
    const q = this.queues.get(key);
    if (!q) return;
    for (const p of q.pollers) {
      if (p.done) continue;
      p.done = true;
      p.resolve(null);
    }
    q.pollers = [];
    if (q.size === 0) this.queues.delete(key);
  }

  backlogSize(ns: string, kind: TaskKind, name: string): number {
    return this.queues.get(`${ns}\u0000${kind}\u0000${name}`)?.size ?? 0;
  }
}
