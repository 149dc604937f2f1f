// Temporal Schedules, run inside the server (Temporal runs one scheduler workflow per schedule; here
// each schedule is a record with a wake-up on the server clock). On each wake-up the schedule takes
// the action times that passed since it last looked (dropping those older than the catch-up window),
// buffers them, and starts workflows from the buffer under its overlap policy. The record (spec,
// action, policies, state, info, last processed time, buffer, conflict token) is written in the same
// group commit as the runs it started; after a restart every schedule catches up from its record.
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../clock';
import { ApiError, failedPrecondition, invalidArgument, notFound } from '../grpc';
import type { Engine, Logger, StartParams } from '../history/engine';
import type { Execution } from '../history/execution';
import { startWithPolicies } from '../history/start';
import type { Store } from '../store/store';
import {
  Memo,
  SearchAttributes,
  api,
  durationMs,
  enums,
  fromB64,
  msToDuration,
  msToTimestamp,
  toB64,
  toNumber,
  Payloads,
  Failure,
} from '../proto';
import { CompiledSpec, canonicalizeSpec } from './spec';

const Overlap = enums.ScheduleOverlapPolicy;
const Status = enums.WorkflowExecutionStatus;
const Reuse = enums.WorkflowIdReusePolicy;
const ScheduleMsg = api.schedule.v1.Schedule;

const DEFAULT_CATCHUP_WINDOW_MS = 365 * 24 * 3600 * 1000;
const MIN_CATCHUP_WINDOW_MS = 10_000;
const MAX_BUFFER = 1000;
const RECENT_ACTIONS = 10;
const FUTURE_ACTIONS = 10;
const LIST_ACTIONS = 5;
const MAX_MATCHING_TIMES = 1000;
/** Re-check running workflows this often while starts wait for them (close events also wake us). */
const WATCH_POLL_MS = 10_000;
const MAX_ID_LENGTH = 1000;

interface BufferedStart {
  nominal: number;
  actual: number;
  overlap: number;
  manual: boolean;
}

interface RecentAction {
  scheduleTime: number;
  actualTime: number;
  workflowId: string;
  runId: string;
  status: number;
}

interface ScheduleInfoState {
  actionCount: number;
  missedCatchupWindow: number;
  overlapSkipped: number;
  bufferDropped: number;
  runningWorkflows: Array<{ workflowId: string; runId: string }>;
  recentActions: RecentAction[];
  createTime: number;
  updateTime: number;
}

interface InternalState {
  lastProcessedTime: number;
  conflictToken: number;
  buffer: BufferedStart[];
  /** Result of the last scheduled run that completed, failure of the last that failed (base64). */
  lastCompletionResult?: string | null;
  continuedFailure?: string | null;
}

/** The persisted record of a schedule (the `data` column, JSON). */
interface StoredSchedule {
  /** base64 temporal.api.schedule.v1.Schedule, spec in canonical form. */
  schedule: string;
  memo: string | null;
  searchAttributes: string | null;
  requestId: string;
  info: ScheduleInfoState;
  state: InternalState;
}

class ScheduleRecord {
  schedule: any;
  compiled: CompiledSpec | null = null;
  invalidError = '';
  /** Due time of the armed wake-up (Infinity when none). */
  wakeAt = Infinity;
  deleted = false;

  constructor(
    readonly namespace: string,
    readonly scheduleId: string,
    public data: StoredSchedule,
  ) {
    this.schedule = ScheduleMsg.decode(Buffer.from(data.schedule, 'base64'));
    this.compile();
  }

  get key(): string {
    return `${this.namespace}\u0000${this.scheduleId}`;
  }

  compile(): void {
    try {
      this.compiled = new CompiledSpec(canonicalizeSpec(this.schedule.spec));
      this.invalidError = '';
    } catch (err) {
      this.compiled = null;
      this.invalidError = (err as Error).message;
    }
  }

  setSchedule(schedule: any): void {
    this.schedule = schedule;
    this.compile();
  }

  /** The persisted form (the schedule message is encoded at write time: its state changes often). */
  toJSON(): string {
    this.data.schedule = Buffer.from(ScheduleMsg.encode(this.schedule).finish()).toString('base64');
    return JSON.stringify(this.data);
  }

  get state(): any {
    return this.schedule.state;
  }

  get policies(): any {
    return this.schedule.policies;
  }
}

function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function encodeToken(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
}

function decodeToken(b: Uint8Array | null | undefined): number | null {
  if (!b?.length) return null;
  if (b.length !== 8) throw invalidArgument('invalid conflict token');
  return Number(Buffer.from(b).readBigInt64BE());
}

/** Validate and complete a Schedule from a request: canonical spec, resolved policies, state. */
function normalizeSchedule(s: any): any {
  if (!s) throw invalidArgument('Schedule is not set on request.');
  const spec = canonicalizeSpec(s.spec);
  const sw = s.action?.startWorkflow;
  if (!sw) throw invalidArgument('Schedule action must start a workflow (action.startWorkflow is not set).');
  if (!sw.workflowId) throw invalidArgument('WorkflowId is not set on request.');
  if (sw.workflowId.length + 21 > MAX_ID_LENGTH) throw invalidArgument('WorkflowId exceeds length limit.');
  if (!sw.workflowType?.name) throw invalidArgument('WorkflowType is not set on request.');
  if (!sw.taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
  if (sw.cronSchedule) throw invalidArgument('CronSchedule is not allowed in a schedule action.');
  if (sw.workflowIdReusePolicy && sw.workflowIdReusePolicy !== Reuse.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE) {
    throw invalidArgument('WorkflowIdReusePolicy is not allowed in a schedule action.');
  }
  for (const d of [sw.workflowExecutionTimeout, sw.workflowRunTimeout, sw.workflowTaskTimeout]) {
    if (durationMs(d) < 0) throw invalidArgument('Invalid timeout in schedule action.');
  }
  const policies = s.policies ?? {};
  const overlap = policies.overlapPolicy || Overlap.SCHEDULE_OVERLAP_POLICY_SKIP;
  if (!(overlap in Overlap) || overlap === Overlap.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED)
    throw invalidArgument(`invalid overlap policy ${overlap}`);
  const cw = policies.catchupWindow ? durationMs(policies.catchupWindow) : DEFAULT_CATCHUP_WINDOW_MS;
  const state = s.state ?? {};
  const remaining = toNumber(state.remainingActions as any);
  if (state.limitedActions && remaining < 0) throw invalidArgument('RemainingActions must not be negative.');
  return {
    spec,
    action: s.action,
    policies: {
      overlapPolicy: overlap,
      catchupWindow: msToDuration(Math.max(cw, MIN_CATCHUP_WINDOW_MS)),
      pauseOnFailure: !!policies.pauseOnFailure,
      keepOriginalWorkflowId: !!policies.keepOriginalWorkflowId,
    },
    state: {
      notes: state.notes ?? '',
      paused: !!state.paused,
      limitedActions: !!state.limitedActions,
      remainingActions: state.limitedActions ? remaining : 0,
    },
  };
}

function hasFields(m: any, key: 'fields' | 'indexedFields'): boolean {
  return !!m?.[key] && Object.keys(m[key]).length > 0;
}

export class Schedules {
  private records = new Map<string, ScheduleRecord>();
  /** namespace \0 workflow id of a tracked running workflow → schedule key. */
  private watched = new Map<string, string>();
  private dirty = new Set<ScheduleRecord>();
  private deletes: string[][] = [];
  private pending = new Set<ScheduleRecord>();
  private stopped = false;
  private stmts;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const db = store.db;
    db.exec(`CREATE TABLE IF NOT EXISTS schedules (
      namespace TEXT NOT NULL,
      schedule_id TEXT NOT NULL,
      data TEXT NOT NULL,
      PRIMARY KEY (namespace, schedule_id)
    )`);
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO schedules (namespace, schedule_id, data) VALUES (?, ?, ?)
         ON CONFLICT (namespace, schedule_id) DO UPDATE SET data = excluded.data`,
      ),
      remove: db.prepare(`DELETE FROM schedules WHERE namespace = ? AND schedule_id = ?`),
      all: db.prepare(`SELECT namespace, schedule_id, data FROM schedules`),
    };
  }

  // ---------------------------------------------------------------- persistence

  private persist(rec: ScheduleRecord): void {
    if (this.dirty.size === 0 && this.deletes.length === 0) this.store.write((db) => this.flush(db));
    this.dirty.add(rec);
  }

  private flush(_db: Database.Database): void {
    for (const [ns, id] of this.deletes) this.stmts.remove.run(ns, id);
    this.deletes = [];
    for (const rec of this.dirty) {
      if (!rec.deleted) this.stmts.upsert.run(rec.namespace, rec.scheduleId, rec.toJSON());
    }
    this.dirty.clear();
  }

  /** Server shutdown: take no more actions (the store is about to close). */
  stop(): void {
    this.stopped = true;
  }

  /** Load every schedule after a (re)start and catch up on the action times missed meanwhile. */
  recover(): number {
    const rows = this.stmts.all.all() as Array<{ namespace: string; schedule_id: string; data: string }>;
    for (const row of rows) {
      const rec = new ScheduleRecord(row.namespace, row.schedule_id, JSON.parse(row.data));
      this.records.set(rec.key, rec);
      for (const w of rec.data.info.runningWorkflows)
        this.watched.set(`${rec.namespace}\u0000${w.workflowId}`, rec.key);
    }
    for (const rec of this.records.values()) this.process(rec);
    return rows.length;
  }

  // ---------------------------------------------------------------- API

  private get(namespace: string, scheduleId: string): ScheduleRecord {
    if (!scheduleId) throw invalidArgument('ScheduleId is not set on request.');
    const rec = this.records.get(`${namespace}\u0000${scheduleId}`);
    if (!rec) throw notFound(`schedule "${scheduleId}" not found`);
    return rec;
  }

  create(namespace: string, req: any): Buffer {
    const scheduleId: string = req.scheduleId ?? '';
    if (!scheduleId) throw invalidArgument('ScheduleId is not set on request.');
    if (scheduleId.length > MAX_ID_LENGTH) throw invalidArgument('ScheduleId exceeds length limit.');
    const requestId: string = req.requestId || randomUUID();
    const existing = this.records.get(`${namespace}\u0000${scheduleId}`);
    if (existing) {
      if (existing.data.requestId === requestId) return encodeToken(existing.data.state.conflictToken);
      throw new ApiError(grpc.status.ALREADY_EXISTS, 'Schedule with this ID is already registered.');
    }
    const schedule = normalizeSchedule(req.schedule);
    const now = this.clock.now();
    const rec = new ScheduleRecord(namespace, scheduleId, {
      schedule: Buffer.from(ScheduleMsg.encode(schedule).finish()).toString('base64'),
      memo: toB64(Memo, hasFields(req.memo, 'fields') ? req.memo : null),
      searchAttributes: toB64(
        SearchAttributes,
        hasFields(req.searchAttributes, 'indexedFields') ? req.searchAttributes : null,
      ),
      requestId,
      info: {
        actionCount: 0,
        missedCatchupWindow: 0,
        overlapSkipped: 0,
        bufferDropped: 0,
        runningWorkflows: [],
        recentActions: [],
        createTime: now,
        updateTime: 0,
      },
      state: { lastProcessedTime: now, conflictToken: 1, buffer: [] },
    });
    this.records.set(rec.key, rec);
    this.applyPatch(rec, req.initialPatch);
    this.process(rec);
    return encodeToken(rec.data.state.conflictToken);
  }

  describe(namespace: string, scheduleId: string): any {
    const rec = this.get(namespace, scheduleId);
    if (this.refreshRunning(rec)) this.process(rec);
    const info = rec.data.info;
    return {
      schedule: this.presentSchedule(rec),
      info: {
        actionCount: info.actionCount,
        missedCatchupWindow: info.missedCatchupWindow,
        overlapSkipped: info.overlapSkipped,
        bufferDropped: info.bufferDropped,
        bufferSize: rec.data.state.buffer.length,
        runningWorkflows: info.runningWorkflows.map((w) => ({ ...w })),
        recentActions: info.recentActions.map(presentAction),
        futureActionTimes: this.futureActionTimes(rec, FUTURE_ACTIONS).map(msToTimestamp),
        createTime: msToTimestamp(info.createTime),
        updateTime: info.updateTime ? msToTimestamp(info.updateTime) : undefined,
        invalidScheduleError: rec.invalidError || undefined,
      },
      memo: fromB64(Memo, rec.data.memo) ?? undefined,
      searchAttributes: fromB64(SearchAttributes, rec.data.searchAttributes) ?? undefined,
      conflictToken: encodeToken(rec.data.state.conflictToken),
    };
  }

  update(namespace: string, req: any): void {
    const rec = this.get(namespace, req.scheduleId);
    const token = decodeToken(req.conflictToken);
    if (token !== null && token !== rec.data.state.conflictToken) {
      throw failedPrecondition('conflicting concurrent update: the schedule changed since it was described');
    }
    const schedule = normalizeSchedule(req.schedule);
    // Take what was due under the old spec first.
    this.process(rec);
    rec.setSchedule(schedule);
    if (req.searchAttributes) {
      rec.data.searchAttributes = toB64(
        SearchAttributes,
        hasFields(req.searchAttributes, 'indexedFields') ? req.searchAttributes : null,
      );
    }
    if (req.memo) rec.data.memo = toB64(Memo, hasFields(req.memo, 'fields') ? req.memo : null);
    rec.data.info.updateTime = this.clock.now();
    rec.data.state.conflictToken++;
    this.process(rec);
  }

  patch(namespace: string, req: any): void {
    const rec = this.get(namespace, req.scheduleId);
    if (!req.patch) return;
    this.process(rec);
    this.applyPatch(rec, req.patch);
    this.process(rec);
  }

  delete(namespace: string, scheduleId: string): void {
    const rec = this.get(namespace, scheduleId);
    rec.deleted = true;
    this.records.delete(rec.key);
    for (const w of rec.data.info.runningWorkflows) this.watched.delete(`${namespace}\u0000${w.workflowId}`);
    this.dirty.delete(rec);
    if (this.dirty.size === 0 && this.deletes.length === 0) this.store.write((db) => this.flush(db));
    this.deletes.push([namespace, scheduleId]);
  }

  list(
    namespace: string,
    filter: (rec: { scheduleId: string; paused: boolean }) => boolean,
    pageSize: number,
    after: string | null,
  ): { entries: any[]; next: string | null } {
    const recs = [...this.records.values()]
      .filter((r) => r.namespace === namespace && (after === null || r.scheduleId > after))
      .filter((r) => filter({ scheduleId: r.scheduleId, paused: !!r.state.paused }))
      .sort((a, b) => (a.scheduleId < b.scheduleId ? -1 : a.scheduleId > b.scheduleId ? 1 : 0));
    const page = recs.slice(0, pageSize);
    return {
      entries: page.map((rec) => ({
        scheduleId: rec.scheduleId,
        memo: fromB64(Memo, rec.data.memo) ?? undefined,
        searchAttributes: fromB64(SearchAttributes, rec.data.searchAttributes) ?? undefined,
        info: {
          spec: this.presentSchedule(rec).spec,
          workflowType: rec.schedule.action?.startWorkflow?.workflowType ?? undefined,
          notes: rec.state.notes ?? '',
          paused: !!rec.state.paused,
          recentActions: rec.data.info.recentActions.slice(-LIST_ACTIONS).map(presentAction),
          futureActionTimes: this.futureActionTimes(rec, LIST_ACTIONS).map(msToTimestamp),
        },
      })),
      next: recs.length > pageSize ? page[page.length - 1].scheduleId : null,
    };
  }

  count(namespace: string, filter: (rec: { scheduleId: string; paused: boolean }) => boolean): number {
    let n = 0;
    for (const r of this.records.values()) {
      if (r.namespace === namespace && filter({ scheduleId: r.scheduleId, paused: !!r.state.paused })) n++;
    }
    return n;
  }

  matchingTimes(namespace: string, scheduleId: string, start: number, end: number): number[] {
    const rec = this.get(namespace, scheduleId);
    if (!rec.compiled) throw invalidArgument(`invalid schedule: ${rec.invalidError}`);
    const out: number[] = [];
    let t = start;
    while (out.length < MAX_MATCHING_TIMES) {
      const next = rec.compiled.next(t);
      if (next === null || next > end) break;
      out.push(next);
      t = next;
    }
    return out;
  }

  /** Engine hook: a run closed. If a schedule waits on it, look again once the transition is done. */
  onClose(exec: Execution): void {
    const key = this.watched.get(`${exec.ms.namespace}\u0000${exec.ms.workflowId}`);
    const rec = key && this.records.get(key);
    if (!rec) return;
    this.rememberOutcome(rec, exec);
    if (this.pending.has(rec)) return;
    this.pending.add(rec);
    setImmediate(() => {
      this.pending.delete(rec);
      if (!rec.deleted) this.process(rec);
    });
  }

  /** Keep what the next scheduled run receives as its last completion result / continued failure. */
  private rememberOutcome(rec: ScheduleRecord, exec: Execution): void {
    const close = exec.events[exec.ms.closeEventId - 1];
    const done = close?.workflowExecutionCompletedEventAttributes;
    const failed = close?.workflowExecutionFailedEventAttributes;
    if (done) {
      rec.data.state.lastCompletionResult = toB64(Payloads, done.result ?? { payloads: [] });
      rec.data.state.continuedFailure = null;
    } else if (failed) {
      rec.data.state.continuedFailure = toB64(Failure, failed.failure);
    } else {
      return;
    }
    this.persist(rec);
  }

  // ---------------------------------------------------------------- the scheduler proper

  private presentSchedule(rec: ScheduleRecord): any {
    const s = rec.schedule;
    return {
      spec: s.spec,
      action: s.action,
      policies: s.policies,
      state: {
        notes: s.state?.notes ?? '',
        paused: !!s.state?.paused,
        limitedActions: !!s.state?.limitedActions,
        remainingActions: toNumber(s.state?.remainingActions as any),
      },
    };
  }

  private catchupWindow(rec: ScheduleRecord): number {
    const cw = rec.policies?.catchupWindow;
    return cw ? Math.max(durationMs(cw), MIN_CATCHUP_WINDOW_MS) : DEFAULT_CATCHUP_WINDOW_MS;
  }

  private resolveOverlap(rec: ScheduleRecord, p: number): number {
    return p || rec.policies?.overlapPolicy || Overlap.SCHEDULE_OVERLAP_POLICY_SKIP;
  }

  private canTakeScheduledAction(rec: ScheduleRecord, manual: boolean, decrement: boolean): boolean {
    if (manual) return true;
    const st = rec.state;
    if (st.paused) return false;
    if (!st.limitedActions) return true;
    const remaining = toNumber(st.remainingActions as any);
    if (remaining <= 0) return false;
    if (decrement) {
      st.remainingActions = remaining - 1;
      rec.data.state.conflictToken++;
    }
    return true;
  }

  private applyPatch(rec: ScheduleRecord, patch: any): void {
    if (!patch) return;
    const now = this.clock.now();
    if (patch.triggerImmediately) {
      const at = patch.triggerImmediately.scheduledTime
        ? toNumber(patch.triggerImmediately.scheduledTime.seconds as any) * 1000
        : now;
      this.addStart(rec, at, at, patch.triggerImmediately.overlapPolicy ?? 0, true);
    }
    for (const bf of patch.backfillRequest ?? []) {
      const start = toNumber(bf.startTime?.seconds as any) * 1000 + Math.floor((bf.startTime?.nanos ?? 0) / 1e6);
      const end = toNumber(bf.endTime?.seconds as any) * 1000 + Math.floor((bf.endTime?.nanos ?? 0) / 1e6);
      if (!bf.startTime || !bf.endTime || end < start) throw invalidArgument('Backfill needs a start and an end time.');
      // Inclusive of the start time, as Temporal's current versions are.
      this.processTimeRange(rec, start - 1, end, bf.overlapPolicy ?? 0, true);
    }
    if (patch.pause) {
      rec.state.paused = true;
      rec.state.notes = patch.pause;
      rec.data.state.conflictToken++;
    }
    if (patch.unpause) {
      rec.state.paused = false;
      rec.state.notes = patch.unpause;
      rec.data.state.conflictToken++;
    }
    this.persist(rec);
  }

  private addStart(rec: ScheduleRecord, nominal: number, actual: number, overlap: number, manual: boolean): void {
    if (rec.data.state.buffer.length >= MAX_BUFFER) {
      rec.data.info.bufferDropped++;
      return;
    }
    rec.data.state.buffer.push({ nominal, actual, overlap, manual });
  }

  /** Buffer the action times in (start, end]; scheduled ones older than the catch-up window are missed. */
  private processTimeRange(rec: ScheduleRecord, start: number, end: number, overlap: number, manual: boolean): void {
    const spec = rec.compiled;
    if (!spec) return;
    // Paused or out of actions: the time passes without actions (nor missed ones).
    if (!this.canTakeScheduledAction(rec, manual, false)) return;
    const window = this.catchupWindow(rec);
    const updateTime = rec.data.info.updateTime;
    let t = start;
    for (let next = spec.next(t); next !== null && next <= end; next = spec.next(t)) {
      t = next;
      if (!manual && updateTime > next) continue;
      if (!manual && end - next > window) {
        rec.data.info.missedCatchupWindow++;
        // A long outage: count the rest of the missed range without visiting each time.
        if (end - window > next + 1000 && rec.data.info.missedCatchupWindow % 10_000 === 0) t = end - window - 1;
        continue;
      }
      if (rec.data.state.buffer.length >= MAX_BUFFER) {
        // The buffer is full: the rest of the range is dropped (counted once).
        rec.data.info.bufferDropped++;
        break;
      }
      this.addStart(rec, next, next, overlap, manual);
    }
  }

  /** Drop finished workflows from the running list; true when one finished. */
  private refreshRunning(rec: ScheduleRecord): boolean {
    const info = rec.data.info;
    let changed = false;
    for (const w of [...info.runningWorkflows]) {
      const exec = this.engine.find(rec.namespace, w.workflowId);
      if (exec?.isOpen) continue;
      changed = true;
      info.runningWorkflows = info.runningWorkflows.filter((x) => x !== w);
      this.watched.delete(`${rec.namespace}\u0000${w.workflowId}`);
      const status = exec?.ms.status ?? Status.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED;
      const recent = info.recentActions.find((a) => a.workflowId === w.workflowId);
      if (recent) recent.status = status;
      const failed =
        status === Status.WORKFLOW_EXECUTION_STATUS_FAILED || status === Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT;
      if (rec.policies?.pauseOnFailure && failed && !rec.state.paused) {
        rec.state.paused = true;
        rec.state.notes =
          status === Status.WORKFLOW_EXECUTION_STATUS_FAILED
            ? `paused due to workflow failure: ${w.workflowId}`
            : `paused due to workflow timeout: ${w.workflowId}`;
        rec.data.state.conflictToken++;
      }
    }
    if (changed) this.persist(rec);
    return changed;
  }

  /** Catch up to now: buffer due times, start what the overlap policy allows, arm the next wake-up. */
  private process(rec: ScheduleRecord): void {
    if (rec.deleted || this.stopped) return;
    const st = rec.data.state;
    const now = this.clock.now();
    const t2 = Math.max(now, st.lastProcessedTime);
    this.processTimeRange(rec, st.lastProcessedTime, t2, 0, false);
    st.lastProcessedTime = t2;
    this.refreshRunning(rec);
    for (let i = 0; i < 100 && this.processBuffer(rec); i++) {
      this.refreshRunning(rec);
    }
    this.persist(rec);
    this.arm(rec);
  }

  /** Temporal's processBuffer: returns true when it may have more to do right away. */
  private processBuffer(rec: ScheduleRecord): boolean {
    const st = rec.data.state;
    const info = rec.data.info;
    const req = rec.schedule.action?.startWorkflow;
    if (!req || st.buffer.length === 0) {
      st.buffer = [];
      return false;
    }
    const isRunning = info.runningWorkflows.length > 0;
    const overlapping: BufferedStart[] = [];
    let nonOverlapping: BufferedStart | null = null;
    const newBuffer: BufferedStart[] = [];
    let needCancel = false;
    let needTerminate = false;
    for (const start of st.buffer) {
      const policy = this.resolveOverlap(rec, start.overlap);
      if (policy === Overlap.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL) {
        overlapping.push(start);
        continue;
      }
      if (!isRunning && !nonOverlapping) {
        nonOverlapping = start;
        continue;
      }
      switch (policy) {
        case Overlap.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE:
          if (newBuffer.length === 0) newBuffer.push(start);
          else info.overlapSkipped++;
          break;
        case Overlap.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL:
          newBuffer.push(start);
          break;
        case Overlap.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER:
        case Overlap.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER:
          if (isRunning) {
            if (policy === Overlap.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER) needCancel = true;
            else needTerminate = true;
            newBuffer.push(start);
          } else {
            nonOverlapping = start;
          }
          break;
        default: // SKIP
          info.overlapSkipped++;
      }
    }
    if (needCancel || needTerminate) overlapping.length = 0;
    st.buffer = newBuffer;

    let tryAgain = false;
    const starts = nonOverlapping ? [...overlapping, nonOverlapping] : overlapping;
    for (const start of starts) {
      if (!this.canTakeScheduledAction(rec, start.manual, true)) {
        tryAgain = true;
        continue;
      }
      if (!this.startWorkflow(rec, start, req, start === nonOverlapping)) tryAgain = true;
    }
    if (needTerminate || needCancel) {
      for (const w of info.runningWorkflows) {
        const exec = this.engine.find(rec.namespace, w.workflowId);
        if (!exec?.isOpen) continue;
        const identity = this.identity(rec);
        if (needTerminate) this.engine.terminate(exec, 'terminated by schedule overlap policy', undefined, identity);
        else if (!exec.ms.cancelRequested)
          this.engine.requestCancel(exec, { identity, reason: 'cancelled by schedule overlap policy' });
      }
    }
    return tryAgain && st.buffer.length > 0;
  }

  private identity(rec: ScheduleRecord): string {
    return `temporal-scheduler-${rec.namespace}-${rec.scheduleId}`;
  }

  private startWorkflow(rec: ScheduleRecord, start: BufferedStart, req: any, track: boolean): boolean {
    const workflowId = rec.policies?.keepOriginalWorkflowId
      ? req.workflowId
      : `${req.workflowId}-${rfc3339Seconds(start.nominal)}`;
    const p: StartParams = {
      namespace: rec.namespace,
      workflowId,
      workflowType: req.workflowType.name,
      taskQueue: req.taskQueue.name,
      input: req.input ?? undefined,
      header: req.header ?? undefined,
      memo: req.memo ?? undefined,
      searchAttributes: req.searchAttributes ?? undefined,
      retryPolicy: req.retryPolicy ?? undefined,
      executionTimeoutMs: durationMs(req.workflowExecutionTimeout),
      runTimeoutMs: durationMs(req.workflowRunTimeout),
      wftTimeoutMs: durationMs(req.workflowTaskTimeout),
      identity: this.identity(rec),
      requestId: randomUUID(),
      lastCompletionResult: fromB64(Payloads, rec.data.state.lastCompletionResult) ?? undefined,
      continuedFailure: fromB64(Failure, rec.data.state.continuedFailure) ?? undefined,
    };
    let exec: Execution;
    try {
      exec = startWithPolicies(
        this.engine,
        p,
        start.manual ? Reuse.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE : Reuse.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
        0,
      ).exec;
    } catch (err) {
      this.log.warn(
        { err, namespace: rec.namespace, scheduleId: rec.scheduleId, workflowId },
        'schedule could not start its workflow',
      );
      return false;
    }
    const info = rec.data.info;
    info.actionCount++;
    info.recentActions.push({
      scheduleTime: start.actual,
      actualTime: this.clock.now(),
      workflowId,
      runId: exec.ms.runId,
      status: Status.WORKFLOW_EXECUTION_STATUS_RUNNING,
    });
    if (info.recentActions.length > RECENT_ACTIONS)
      info.recentActions.splice(0, info.recentActions.length - RECENT_ACTIONS);
    if (track) {
      info.runningWorkflows.push({ workflowId, runId: exec.ms.runId });
      this.watched.set(`${rec.namespace}\u0000${workflowId}`, rec.key);
    }
    return true;
  }

  private futureActionTimes(rec: ScheduleRecord, n: number): number[] {
    const spec = rec.compiled;
    if (!spec) return [];
    const st = rec.state;
    if (st.limitedActions) n = Math.min(n, toNumber(st.remainingActions as any));
    const out: number[] = [];
    let t = rec.data.state.lastProcessedTime;
    for (let i = 0; out.length < n && i < 10_000; i++) {
      const next = spec.next(t);
      if (next === null) break;
      t = next;
      if (rec.data.info.updateTime > next) continue;
      out.push(next);
    }
    return out;
  }

  /** Arm the next wake-up: the next action time (unless paused or out of actions), or a watch poll. */
  private arm(rec: ScheduleRecord): void {
    let at = Infinity;
    if (rec.compiled && this.canTakeScheduledAction(rec, false, false)) {
      at = rec.compiled.next(rec.data.state.lastProcessedTime) ?? Infinity;
    }
    if (rec.data.state.buffer.length) at = Math.min(at, this.clock.now() + WATCH_POLL_MS);
    if (at === rec.wakeAt) return;
    rec.wakeAt = at;
    if (at === Infinity) return;
    this.clock.schedule(at, () => {
      if (rec.deleted || rec.wakeAt !== at) return;
      rec.wakeAt = Infinity;
      this.process(rec);
    });
  }
}

function presentAction(a: RecentAction): any {
  return {
    scheduleTime: msToTimestamp(a.scheduleTime),
    actualTime: msToTimestamp(a.actualTime),
    startWorkflowResult: { workflowId: a.workflowId, runId: a.runId },
    startWorkflowStatus: a.status,
  };
}
