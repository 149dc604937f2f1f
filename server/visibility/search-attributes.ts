// Search attributes: the registry of custom attributes (name → IndexedValueType, persisted in SQLite
// and kept in step with ctx.searchAttributes), the built-in (system) attributes, and the conversion
// of a run's SearchAttributes payloads into index entries (rows of the `search_attributes` table).
import type Database from 'better-sqlite3';
import { invalidArgument } from '../grpc';
import { SearchAttributes, enums, fromB64 } from '../proto';

export const T = enums.IndexedValueType;

/** Built-in attributes that the visibility query language knows (all backed by executions columns). */
export const SYSTEM_ATTRIBUTES: Record<string, number> = {
  WorkflowId: T.INDEXED_VALUE_TYPE_KEYWORD,
  WorkflowType: T.INDEXED_VALUE_TYPE_KEYWORD,
  RunId: T.INDEXED_VALUE_TYPE_KEYWORD,
  TaskQueue: T.INDEXED_VALUE_TYPE_KEYWORD,
  ExecutionStatus: T.INDEXED_VALUE_TYPE_KEYWORD,
  StartTime: T.INDEXED_VALUE_TYPE_DATETIME,
  CloseTime: T.INDEXED_VALUE_TYPE_DATETIME,
  ExecutionTime: T.INDEXED_VALUE_TYPE_DATETIME,
};

/**
 * Attributes Temporal predefines and SDKs set themselves (e.g. TemporalChangeVersion from `patched()`):
 * indexed and queried like custom ones, never persisted as registrations, listed as system attributes.
 */
export const PREDEFINED_ATTRIBUTES: Record<string, number> = {
  TemporalChangeVersion: T.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  BinaryChecksums: T.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  BuildIds: T.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  BatcherNamespace: T.INDEXED_VALUE_TYPE_KEYWORD,
  BatcherUser: T.INDEXED_VALUE_TYPE_KEYWORD,
  TemporalScheduledStartTime: T.INDEXED_VALUE_TYPE_DATETIME,
  TemporalScheduledById: T.INDEXED_VALUE_TYPE_KEYWORD,
  TemporalSchedulePaused: T.INDEXED_VALUE_TYPE_BOOL,
  TemporalNamespaceDivision: T.INDEXED_VALUE_TYPE_KEYWORD,
};

/** Names Temporal reserves for itself: they cannot be registered as custom attributes. */
const RESERVED = new Set([
  ...Object.keys(SYSTEM_ATTRIBUTES),
  'NamespaceId',
  'HistoryLength',
  'StateTransitionCount',
  'ExecutionDuration',
  'HistorySizeBytes',
  'ParentWorkflowId',
  'ParentRunId',
  'RootWorkflowId',
  'RootRunId',
  'BatcherNamespace',
  'BatcherUser',
  'BinaryChecksums',
  'BuildIds',
  'TemporalChangeVersion',
  'TemporalNamespaceDivision',
  'TemporalSchedulePaused',
  'TemporalScheduledById',
  'TemporalScheduledStartTime',
  'TemporalWorkerDeployment',
  'TemporalWorkerDeploymentVersion',
  'TemporalWorkflowVersioningBehavior',
  'TemporalPauseInfo',
  'TemporalReportedProblems',
]);

export function isReservedName(name: string): boolean {
  return RESERVED.has(name);
}

const TYPE_NAMES: Record<number, string> = {
  [T.INDEXED_VALUE_TYPE_TEXT]: 'Text',
  [T.INDEXED_VALUE_TYPE_KEYWORD]: 'Keyword',
  [T.INDEXED_VALUE_TYPE_INT]: 'Int',
  [T.INDEXED_VALUE_TYPE_DOUBLE]: 'Double',
  [T.INDEXED_VALUE_TYPE_BOOL]: 'Bool',
  [T.INDEXED_VALUE_TYPE_DATETIME]: 'Datetime',
  [T.INDEXED_VALUE_TYPE_KEYWORD_LIST]: 'KeywordList',
};

/** "Keyword", "Int", ... (the payload metadata `type` Temporal uses). */
export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? 'Unspecified';
}

export function isValidType(t: number): boolean {
  return t in TYPE_NAMES;
}

/** Custom search attributes: persisted registrations, exposed as the shared `types` map. */
export class SearchAttributeRegistry {
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    /** The map the rest of the server reads (ctx.searchAttributes); updated in place. */
    readonly types: Map<string, number>,
  ) {
    this.stmts = {
      all: db.prepare(`SELECT name, type FROM search_attribute_defs`),
      upsert: db.prepare(
        `INSERT INTO search_attribute_defs (name, type) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET type = excluded.type`,
      ),
      remove: db.prepare(`DELETE FROM search_attribute_defs WHERE name = ?`),
      removeValues: db.prepare(`DELETE FROM search_attributes WHERE name = ?`),
    };
    // Flag registrations (already in `types`) join the persisted ones; a flag may not change the
    // type of an attribute already registered, as values indexed under the old type would lie.
    const persisted = new Map(
      (this.stmts.all.all() as { name: string; type: number }[]).map((r) => [r.name, r.type] as const),
    );
    for (const [name, t] of types) {
      if (isReservedName(name)) throw new Error(`search attribute ${name} is reserved by system`);
      const before = persisted.get(name);
      if (before !== undefined && before !== t)
        throw new Error(
          `search attribute ${name} is already registered as ${typeName(before)}; cannot register it as ${typeName(t)}`,
        );
      if (before === undefined) this.stmts.upsert.run(name, t);
    }
    for (const [name, t] of persisted) types.set(name, t);
    for (const [name, t] of Object.entries(PREDEFINED_ATTRIBUTES)) types.set(name, t);
  }

  /** Registered custom attributes only (without the predefined ones). */
  custom(): Record<string, number> {
    return Object.fromEntries([...this.types].filter(([name]) => !(name in PREDEFINED_ATTRIBUTES)));
  }

  /** Register attributes; ones already registered are left as they are (as Temporal does). Returns the added names. */
  add(attrs: Map<string, number>): string[] {
    const added: string[] = [];
    this.db.transaction(() => {
      for (const [name, t] of attrs) {
        if (this.types.has(name)) continue;
        this.stmts.upsert.run(name, t);
        added.push(name);
      }
    })();
    for (const name of added) this.types.set(name, attrs.get(name)!);
    return added;
  }

  /** Unregister attributes and drop their indexed values. Unknown names are ignored. */
  remove(names: string[]): void {
    const present = names.filter((n) => this.types.has(n));
    this.db.transaction(() => {
      for (const name of present) {
        this.stmts.remove.run(name);
        this.stmts.removeValues.run(name);
      }
    })();
    for (const name of present) this.types.delete(name);
  }
}

export type IndexValue = string | number;

/** Decode one search attribute payload's JSON value (null when unset: binary/null, empty, JSON null). */
export function decodePayload(p: any): unknown {
  if (!p) return null;
  const enc = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString() : 'json/plain';
  if (enc === 'binary/null' || !p.data || p.data.length === 0) return null;
  if (enc !== 'json/plain') return null;
  try {
    return JSON.parse(Buffer.from(p.data).toString('utf8'));
  } catch {
    return null;
  }
}

/** Words of a Text value, as the index stores them and as `Text = '...'` matches them. */
export function textTokens(s: string): string[] {
  return [...new Set((s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) as string[])];
}

/** One decoded JSON value → the index values for an attribute of type `t` (none if it does not fit). */
export function indexValues(t: number, value: unknown): IndexValue[] {
  const items = Array.isArray(value) ? value : [value];
  const out = new Set<IndexValue>();
  for (const v of items) {
    if (v === null || v === undefined) continue;
    switch (t) {
      case T.INDEXED_VALUE_TYPE_KEYWORD:
      case T.INDEXED_VALUE_TYPE_KEYWORD_LIST:
        if (typeof v === 'string') out.add(v);
        break;
      case T.INDEXED_VALUE_TYPE_TEXT:
        if (typeof v === 'string') {
          const tokens = textTokens(v);
          // An empty text is still "set" (IS NOT NULL); '' never matches a token.
          if (tokens.length === 0) out.add('');
          for (const tok of tokens) out.add(tok);
        }
        break;
      case T.INDEXED_VALUE_TYPE_INT: {
        const n = typeof v === 'string' ? Number(v) : v;
        if (typeof n === 'number' && Number.isInteger(n)) out.add(n);
        break;
      }
      case T.INDEXED_VALUE_TYPE_DOUBLE: {
        const n = typeof v === 'string' ? Number(v) : v;
        if (typeof n === 'number' && Number.isFinite(n)) out.add(n);
        break;
      }
      case T.INDEXED_VALUE_TYPE_BOOL:
        if (typeof v === 'boolean') out.add(v ? 1 : 0);
        break;
      case T.INDEXED_VALUE_TYPE_DATETIME:
        if (typeof v === 'string') {
          const ms = Date.parse(v);
          if (Number.isFinite(ms)) out.add(ms);
        }
        break;
    }
  }
  return [...out];
}

/** Index entries of a run's merged search attributes (base64 SearchAttributes from its mutable state). */
export function indexEntries(types: Map<string, number>, saB64: string | null): Array<[string, IndexValue]> {
  const sa = fromB64(SearchAttributes, saB64) as any;
  const out: Array<[string, IndexValue]> = [];
  for (const [name, payload] of Object.entries(sa?.indexedFields ?? {})) {
    const t = types.get(name);
    if (t === undefined) continue;
    for (const v of indexValues(t, decodePayload(payload))) out.push([name, v]);
  }
  return out;
}

/**
 * Search attributes as returned to clients: unset values (null, empty list: how upserts remove one) dropped, and each payload labelled
 * with its registered type (metadata `type`), which the SDKs' typed search attributes need.
 */
export function presentSearchAttributes(types: Map<string, number>, saB64: string | null): any {
  const sa = fromB64(SearchAttributes, saB64) as any;
  if (!sa?.indexedFields) return undefined;
  const fields: Record<string, any> = {};
  for (const [name, payload] of Object.entries<any>(sa.indexedFields)) {
    const value = decodePayload(payload);
    if (value === null || (Array.isArray(value) && value.length === 0)) continue;
    const t = types.get(name);
    const metadata = { ...(payload.metadata ?? {}) };
    if (t !== undefined && !metadata.type) metadata.type = Buffer.from(typeName(t));
    fields[name] = { ...payload, metadata };
  }
  return Object.keys(fields).length ? { indexedFields: fields } : undefined;
}

/**
 * Temporal's check of search attributes on StartWorkflowExecution / UpsertWorkflowSearchAttributes:
 * every name must be registered and every (non-null) value must fit its type. Throws INVALID_ARGUMENT.
 */
export function validateSearchAttributes(types: ReadonlyMap<string, number>, sa: any): void {
  for (const [name, payload] of Object.entries<any>(sa?.indexedFields ?? {})) {
    const t = types.get(name) ?? SYSTEM_ATTRIBUTES[name];
    if (t === undefined) throw invalidArgument(`search attribute ${name} is not defined`);
    const value = decodePayload(payload);
    if (value === null || (Array.isArray(value) && value.length === 0)) continue;
    const items = Array.isArray(value) ? value : [value];
    if (!items.every((v) => indexValues(t, v).length > 0))
      throw invalidArgument(
        `invalid value for search attribute ${name} of type ${typeName(t)}: ${JSON.stringify(value)}`,
      );
  }
}
