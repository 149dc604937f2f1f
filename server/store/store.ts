// Persistence with group commit: transitions made in one tick of the event loop are written in one
// transaction (one fsync in durable mode); callers await `commit()` before answering their RPC, and
// side effects that reveal state (task dispatch) run only after the transaction is on disk.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { SCHEMA, SCHEMA_VERSION } from './schema';

export interface ExecutionRow {
  runId: string;
  namespace: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  status: number;
  startTime: number;
  executionTime: number;
  closeTime: number | null;
  state: string;
  /** The run's merged search attributes (base64 SearchAttributes), indexed into `search_attributes`. */
  searchAttributes: string | null;
}

/** Index entries [name, value] of a run's search attributes (see visibility/search-attributes.ts). */
export type SearchAttributeIndexer = (saB64: string | null) => Array<[string, string | number]>;

export interface NamespaceRow {
  name: string;
  id: string;
  data: string;
}

/** What the store needs from an execution to write it: its row, computed at flush time. */
export interface Persistable {
  toRow(): ExecutionRow;
}

export class Store {
  readonly db: Database.Database;
  private dirty = new Set<Persistable>();
  private events: Array<[string, number, Uint8Array]> = [];
  private currentRuns: Array<[string, string, string]> = [];
  private namespaces: NamespaceRow[] = [];
  /** Writes of other modules (schedules, …) that join the next group commit. */
  private extra: Array<(db: Database.Database) => void> = [];
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private after: Array<() => void> = [];
  private scheduled = false;
  private stmts;
  /** Search attributes last indexed per execution, so unchanged ones are not rewritten each transition. */
  private indexedSearchAttributes = new WeakMap<Persistable, string | null>();
  private indexer: SearchAttributeIndexer = () => [];
  /** Schema version the database had when opened (0 for a new one). */
  readonly openedAtVersion: number;
  transactions = 0;

  constructor(
    file: string | null,
    private readonly onFatal: (err: unknown) => void,
  ) {
    if (file) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file ?? ':memory:');
    if (file) {
      this.db.pragma('journal_mode = WAL');
      // better-sqlite3 leaves WAL at NORMAL, which can lose the last commits on power loss.
      this.db.pragma('synchronous = FULL');
    } else {
      this.db.pragma('synchronous = OFF');
    }
    this.db.exec(SCHEMA);
    const v = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as
      { value: string } | undefined;
    this.openedAtVersion = v ? Number(v.value) : 0;
    if (this.openedAtVersion > SCHEMA_VERSION)
      throw new Error(`database schema version ${v!.value} is newer than this server understands (${SCHEMA_VERSION})`);
    this.db
      .prepare(
        `INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      )
      .run(String(SCHEMA_VERSION));
    this.stmts = {
      upsertExecution: this.db.prepare(
        `INSERT INTO executions (run_id, namespace, workflow_id, workflow_type, task_queue, status, start_time, execution_time, close_time, state)
         VALUES (@runId, @namespace, @workflowId, @workflowType, @taskQueue, @status, @startTime, @executionTime, @closeTime, @state)
         ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, close_time = excluded.close_time,
           execution_time = excluded.execution_time, state = excluded.state`,
      ),
      insertEvent: this.db.prepare(`INSERT INTO events (run_id, event_id, data) VALUES (?, ?, ?)`),
      upsertCurrent: this.db.prepare(
        `INSERT INTO current_runs (namespace, workflow_id, run_id) VALUES (?, ?, ?)
         ON CONFLICT (namespace, workflow_id) DO UPDATE SET run_id = excluded.run_id`,
      ),
      upsertNamespace: this.db.prepare(
        `INSERT INTO namespaces (name, id, data) VALUES (@name, @id, @data) ON CONFLICT (name) DO UPDATE SET data = excluded.data`,
      ),
      getCurrent: this.db.prepare(`SELECT run_id FROM current_runs WHERE namespace = ? AND workflow_id = ?`),
      getExecution: this.db.prepare(`SELECT state FROM executions WHERE run_id = ?`),
      getEvents: this.db.prepare(`SELECT data FROM events WHERE run_id = ? AND event_id >= ? ORDER BY event_id`),
      openExecutions: this.db.prepare(`SELECT state FROM executions WHERE close_time IS NULL`),
      namespaces: this.db.prepare(`SELECT name, id, data FROM namespaces`),
      deleteSearchAttributes: this.db.prepare(`DELETE FROM search_attributes WHERE run_id = ?`),
      insertSearchAttribute: this.db.prepare(
        `INSERT OR IGNORE INTO search_attributes (namespace, name, value, run_id) VALUES (?, ?, ?, ?)`,
      ),
    };
    const write = this.db.transaction(() => this.writeBatch());
    this.flushTx = write;
  }

  private flushTx: () => void;

  markDirty(e: Persistable): void {
    this.dirty.add(e);
    this.schedule();
  }

  appendEvent(runId: string, eventId: number, bytes: Uint8Array): void {
    this.events.push([runId, eventId, bytes]);
    this.schedule();
  }

  setCurrentRun(namespace: string, workflowId: string, runId: string): void {
    this.currentRuns.push([namespace, workflowId, runId]);
    this.schedule();
  }

  /** Queue a write of another module into the next group-commit transaction. */
  write(fn: (db: Database.Database) => void): void {
    this.extra.push(fn);
    this.schedule();
  }

  saveNamespace(row: NamespaceRow): void {
    this.namespaces.push(row);
    this.schedule();
  }

  /** Run `fn` once everything written so far is committed. */
  afterCommit(fn: () => void): void {
    this.after.push(fn);
    this.schedule();
  }

  /** Resolves when everything written so far is committed (at once if nothing is pending). */
  commit(): Promise<void> {
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const waiters = this.waiters;
    const after = this.after;
    this.waiters = [];
    this.after = [];
    try {
      if (
        this.dirty.size ||
        this.events.length ||
        this.currentRuns.length ||
        this.namespaces.length ||
        this.extra.length
      ) {
        this.flushTx();
        this.transactions++;
      }
    } catch (err) {
      // Memory is now ahead of disk: stop rather than answer from state that may be lost.
      for (const w of waiters) w.reject(err);
      this.onFatal(err);
      return;
    }
    for (const fn of after) fn();
    for (const w of waiters) w.resolve();
  }

  private writeBatch(): void {
    const s = this.stmts;
    for (const fn of this.extra) fn(this.db);
    this.extra = [];
    for (const ns of this.namespaces) s.upsertNamespace.run(ns);
    this.namespaces = [];
    for (const [runId, id, bytes] of this.events) s.insertEvent.run(runId, id, bytes);
    this.events = [];
    for (const e of this.dirty) {
      const row = e.toRow();
      s.upsertExecution.run(row);
      if (this.indexedSearchAttributes.get(e) !== row.searchAttributes) {
        this.indexSearchAttributes(row.namespace, row.runId, row.searchAttributes);
        this.indexedSearchAttributes.set(e, row.searchAttributes);
      }
    }
    this.dirty.clear();
    for (const [ns, wid, rid] of this.currentRuns) s.upsertCurrent.run(ns, wid, rid);
    this.currentRuns = [];
  }

  private indexSearchAttributes(namespace: string, runId: string, saB64: string | null): void {
    const s = this.stmts;
    s.deleteSearchAttributes.run(runId);
    for (const [name, value] of this.indexer(saB64)) s.insertSearchAttribute.run(namespace, name, value, runId);
  }

  /** How search attributes become index rows (set once the registry of custom attributes exists). */
  setSearchAttributeIndexer(fn: SearchAttributeIndexer): void {
    this.indexer = fn;
  }

  /** Rebuild the search attribute index of every stored run (a database from before the index existed). */
  reindexSearchAttributes(): number {
    const rows = this.db
      .prepare(
        `SELECT run_id, namespace, json_extract(state, '$.searchAttributes') AS sa FROM executions
         WHERE json_extract(state, '$.searchAttributes') IS NOT NULL`,
      )
      .all() as { run_id: string; namespace: string; sa: string }[];
    this.db.transaction(() => {
      for (const r of rows) this.indexSearchAttributes(r.namespace, r.run_id, r.sa);
    })();
    return rows.length;
  }

  currentRunId(namespace: string, workflowId: string): string | undefined {
    return (this.stmts.getCurrent.get(namespace, workflowId) as { run_id: string } | undefined)?.run_id;
  }

  executionState(runId: string): string | undefined {
    return (this.stmts.getExecution.get(runId) as { state: string } | undefined)?.state;
  }

  eventBytes(runId: string, fromEventId = 1): Buffer[] {
    return (this.stmts.getEvents.all(runId, fromEventId) as { data: Buffer }[]).map((r) => r.data);
  }

  openExecutionStates(): string[] {
    return (this.stmts.openExecutions.all() as { state: string }[]).map((r) => r.state);
  }

  loadNamespaces(): NamespaceRow[] {
    return this.stmts.namespaces.all() as NamespaceRow[];
  }

  close(): void {
    if (this.scheduled) this.flush();
    this.db.close();
  }
}
