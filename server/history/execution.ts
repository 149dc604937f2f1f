// One workflow run in memory: its mutable state, its loaded history and the in-memory waiters
// (history long polls, queries) that are not part of the durable record.
import { HistoryEvent, fromB64 } from '../proto';
import type { ExecutionRow, Persistable } from '../store/store';
import type { MutableState } from './state';
import type { PendingUpdate } from './updates';

export interface PendingQuery {
  id: string;
  queryType: string;
  queryArgs: any;
  header: any;
  /** 'waiting': for the next workflow task; 'inflight': in the started task `seq`; 'legacy': a query task. */
  state: 'waiting' | 'inflight' | 'legacy';
  seq: number;
  resolve: (res: any) => void;
  reject: (err: unknown) => void;
}

export class Execution implements Persistable {
  /** Decoded history events (index = eventId - 1). */
  events: any[];
  /** Buffered events, decoded (kept in step with ms.buffered). */
  buffered: any[];
  historyWaiters = new Set<() => void>();
  queries = new Map<string, PendingQuery>();
  /** Updates this run knows in memory (admitted ones exist nowhere else). */
  updates = new Map<string, PendingUpdate>();

  constructor(
    public ms: MutableState,
    events: any[],
  ) {
    this.events = events;
    this.buffered = ms.buffered.map((b) => fromB64(HistoryEvent, b));
  }

  get key(): string {
    return this.ms.runId;
  }

  get isOpen(): boolean {
    return this.ms.closeTime === null;
  }

  toRow(): ExecutionRow {
    const ms = this.ms;
    return {
      runId: ms.runId,
      namespace: ms.namespace,
      workflowId: ms.workflowId,
      workflowType: ms.workflowType,
      taskQueue: ms.taskQueue,
      status: ms.status,
      startTime: ms.startTime,
      executionTime: ms.executionTime,
      closeTime: ms.closeTime,
      state: JSON.stringify(ms),
      searchAttributes: ms.searchAttributes,
    };
  }

  notifyHistory(): void {
    if (this.historyWaiters.size === 0) return;
    const waiters = [...this.historyWaiters];
    this.historyWaiters.clear();
    for (const w of waiters) w();
  }
}
