// SQLite schema. Mutable state is one JSON row per run (rewritten per transition, small); history
// events are appended once as protobuf bytes and never rewritten; visibility reads indexed columns.
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, id TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
  run_id TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  workflow_type TEXT NOT NULL,
  task_queue TEXT NOT NULL,
  status INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  execution_time INTEGER NOT NULL,
  close_time INTEGER,
  state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_id ON executions (namespace, workflow_id, start_time);
CREATE INDEX IF NOT EXISTS executions_by_type ON executions (namespace, workflow_type, start_time);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (namespace, status, start_time);
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (namespace, start_time);
CREATE TABLE IF NOT EXISTS current_runs (
  namespace TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (namespace, workflow_id)
) WITHOUT ROWID;
-- Custom search attribute values, one row per (run, attribute, value): KeywordList elements and Text
-- words each get a row. Queries like CustomKeyword = 'x' seek the primary key, not the executions.
CREATE TABLE IF NOT EXISTS search_attributes (
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  value NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (namespace, name, value, run_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_attributes_by_run ON search_attributes (run_id, name, value);
CREATE TABLE IF NOT EXISTS search_attribute_defs (name TEXT PRIMARY KEY, type INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (run_id, event_id)
) WITHOUT ROWID;
`;
