// The shapes that cross the workflow boundary: workflow inputs, activity requests/results and the `status`
// query. Everything here is plain JSON and small: artifacts stay on disk under <dataDir>/jobs, and histories carry
// only summaries. Types only, so workflow code can import this without pulling anything into its sandbox.

/** A duration as written in config: milliseconds, or a string such as '30s', '10m', '2h', '30d'. */
export type Duration = string | number;

export interface RetrySpec {
  /** Total attempts, including the first; 0 means unlimited. */
  maximumAttempts?: number;
  initialInterval?: Duration;
  backoffCoefficient?: number;
  maximumInterval?: Duration;
  /** Exit codes that are final: no further attempt is made. */
  nonRetryableExitCodes?: number[];
}

/** Where a notification goes. */
export interface NotifyTarget {
  email?: string;
  webhook?: string;
}

export type Decision = 'approve' | 'reject';

export interface ReviewSpec {
  /** How long to wait for a decision; without it, forever. */
  timeout?: Duration;
  /** The decision taken when the timeout expires (default: reject). */
  default?: Decision;
  /** Shown to the reviewer. */
  message?: string;
  /** Who is asked to review (email / webhook), with signed Approve and Reject links. */
  notify?: NotifyTarget;
}

/** A tool as resolved from config at submission time; the job carries this snapshot, so config edits never change
 * a running job and replays stay deterministic. */
export interface ToolSpec {
  name: string;
  description?: string;
  kind: 'command' | 'http';
  /** argv template: each element may hold `{field}` placeholders; an element that is exactly `{field}` and whose
   * value is an array expands to one argument per item. argv[0] is resolved to an absolute path by config loading. */
  command?: string[];
  /** Run `command` joined by spaces through /bin/sh -c (placeholders are shell-quoted). Off unless config says so. */
  shell?: boolean;
  env?: Record<string, string>;
  /** The input field whose value is written to the process's stdin. */
  stdin?: string;
  /** Start-to-close timeout of one attempt. */
  timeout: Duration;
  /** Heartbeat timeout; the activity heartbeats several times within it. */
  heartbeat: Duration;
  retry: RetrySpec;
  /** A regex applied to each output line; named groups `percent` (0–100) and/or `message`. */
  progress?: { pattern: string; stream?: 'stdout' | 'stderr' | 'both' };
  /** A regex applied to stdout after success; its `value` group (or the whole match) becomes the result value. */
  result?: { pattern?: string; json?: boolean };
  /** Glob-like names (relative to the working directory, `*` wildcards) of files kept as artifacts. */
  outputs?: string[];
  /** Resources held while an attempt runs: name → units. */
  resources?: Record<string, number>;
  /** For kind 'http'. `url`, header values and `body` may hold `{field}` placeholders. */
  http?: {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    successStatus?: number[];
  };
  /** A review gate after the tool ran. */
  review?: ReviewSpec;
  /** Defaults of the input schema's top-level properties (applied to pipeline step inputs too). */
  defaults?: Record<string, unknown>;
  /** The tool's input JSON Schema: the activity checks each run's input against it (pipeline steps build their
   * input from templates at run time, after submission-time validation). */
  inputSchema?: Record<string, unknown>;
}

/** A reference to a file relative to <dataDir>/jobs (so another machine with the same share can resolve it). */
export type JobPath = string;

/** What one tool run leaves behind: small, history-safe. */
export interface StepResult {
  exitCode?: number;
  /** HTTP status for http tools. */
  status?: number;
  /** The result value extracted by the tool's `result` pattern, or the whole stdout when it is short. */
  value?: unknown;
  /** The last few KiB of stdout. */
  stdoutTail?: string;
  stdoutFile?: JobPath;
  stderrFile?: JobPath;
  stdoutBytes?: number;
  /** Files kept (JobPaths). */
  artifacts?: JobPath[];
  durationMs?: number;
  /** For fan-out steps: how many items, and the ones that failed. */
  items?: { total: number; succeeded: number; failed: number; failures: ItemFailure[] };
}

export interface ItemFailure {
  index: number;
  message: string;
  exitCode?: number;
}

export interface JobError {
  message: string;
  type?: string;
  step?: string;
  exitCode?: number;
  stderrTail?: string;
}

/** How a step gets its stdin. */
export type StdinSource = { step: string } | { input: string } | { item: true } | { text: string };

export interface ForEachSpec {
  /** A pipeline input field holding an array. */
  input?: string;
  /** An upstream step whose stdout is split into items. */
  step?: string;
  split?: 'lines' | 'fasta' | 'json';
  /** At most this many items run at once (default 10). */
  concurrency?: number;
  /** Failures tolerated before the step fails: a count, or a percentage of the items. Default 0. */
  tolerate?: { failures?: number; percent?: number };
  /** How branch results are gathered into the step's output (default json). */
  collect?: 'json' | 'concat';
}

export interface StepSpec {
  id: string;
  /** A tool name (a key of PipelineSpec.tools); absent for a review step. */
  tool?: string;
  /** A human review step. */
  review?: ReviewSpec;
  /** Steps that must succeed first. Config default: the step listed before (`[]` to start at once); config
   * loading also adds the steps whose output this one reads. */
  after?: string[];
  /** Tool input; string values may hold `{input.x}`, `{steps.ID.value}`, `{steps.ID.stdoutFile}`, `{item}`,
   * `{item.field}`; a value that is exactly one placeholder keeps the placeholder's type. */
  input?: Record<string, unknown>;
  stdin?: StdinSource;
  forEach?: ForEachSpec;
  /** fail: the job fails (default); continue: later steps that depend on it are skipped, the rest go on;
   * retry: run the step again, up to `retries` more times. */
  onFailure?: 'fail' | 'continue' | 'retry';
  retries?: number;
}

export interface PipelineSpec {
  name: string;
  description?: string;
  steps: StepSpec[];
  /** Snapshots of every tool the steps use. */
  tools: Record<string, ToolSpec>;
}

/** Common to every job workflow's input. */
export interface JobMeta {
  jobId: string;
  clientId: string;
  labels?: Record<string, string>;
  /** ISO time before which nothing runs (a durable timer). */
  notBefore?: string;
  notify?: NotifyTarget;
  /** Capacities of the resources named by the tools, from config at submission. */
  resourceCapacities?: Record<string, number>;
  submittedAt: string;
  /** The job this one retries or redrives. */
  retryOf?: string;
}

export interface JobInput extends JobMeta {
  tool: ToolSpec;
  input: Record<string, unknown>;
  /** A review gate after the tool run (overrides the tool's). */
  review?: ReviewSpec;
}

export interface PipelineInput extends JobMeta {
  pipeline: PipelineSpec;
  input: Record<string, unknown>;
  /** Redrive: results of steps that already succeeded in an earlier run; those steps are not run again. */
  reuse?: Record<string, StepResult>;
  /** State carried over continue-as-new. */
  carried?: JobStatus;
  /** Continue as new once history exceeds this many events (default: when the server suggests it). */
  continueAsNewAfterEvents?: number;
}

/** One run of a tool: which job and step (and fan-out item), the tool and its input. */
export interface ToolRun {
  jobId: string;
  stepId: string;
  /** Index of the fan-out item, if any. */
  item?: number;
  tool: ToolSpec;
  input: Record<string, unknown>;
}

/** Input of the per-item child workflow of a fan-out, and of one tool run in general. */
export interface StepRunInput extends ToolRun {
  stdin?: { file?: JobPath; text?: string };
  resourceCapacities?: Record<string, number>;
}

/** Input of a fan-out driver (a child workflow of the pipeline, continued as new in chunks). */
export interface FanOutInput {
  jobId: string;
  step: StepSpec;
  tool: ToolSpec;
  /** The pipeline input and the upstream results the step's templates may refer to. */
  pipelineInput: Record<string, unknown>;
  upstream: Record<string, StepResult | undefined>;
  /** Items given inline (forEach.input); otherwise read from `source` page by page. */
  items?: unknown[];
  source?: { file: JobPath; split: 'lines' | 'fasta' | 'json' };
  resourceCapacities?: Record<string, number>;
  /** Carried over continue-as-new. */
  next?: number;
  total?: number;
  succeeded?: number;
  failed?: number;
  failures?: ItemFailure[];
  /** Continue as new after this many items were started in one run (default 200). */
  itemsPerRun?: number;
}

// ---- activities ----

export interface RunCommandRequest extends ToolRun {
  stdin?: { file?: JobPath; text?: string };
  /** Signal progress to this workflow (throttled); absent for fan-out items. */
  progressTo?: { workflowId: string; runId?: string };
}

export type HttpCallRequest = ToolRun;

export type NotifyEvent =
  { kind: 'finished'; status: JobStatus } | { kind: 'review'; status: JobStatus; stepId: string; expiresAt?: string };

export interface NotifyRequest {
  target: NotifyTarget;
  event: NotifyEvent;
}

export interface ReadItemsRequest {
  source: { file: JobPath; split: 'lines' | 'fasta' | 'json' };
  offset: number;
  limit: number;
}

export interface ReadItemsResult {
  items: unknown[];
  /** Total number of items in the source. */
  total: number;
}

export interface CollectRequest {
  jobId: string;
  stepId: string;
  total: number;
  mode: 'json' | 'concat';
}

// ---- the `status` query ----

export type JobState = 'queued' | 'running' | 'awaiting_review' | 'succeeded' | 'failed' | 'canceled';
export type StepState =
  'pending' | 'queued' | 'running' | 'awaiting_review' | 'succeeded' | 'failed' | 'canceled' | 'skipped';

export interface StepStatus {
  id: string;
  kind: 'tool' | 'review' | 'forEach';
  tool?: string;
  state: StepState;
  attempt?: number;
  progress?: number;
  message?: string;
  queuedReason?: string;
  startedAt?: string;
  finishedAt?: string;
  result?: StepResult;
  error?: JobError;
  /** Taken from an earlier run (redrive). */
  reused?: boolean;
  items?: { total?: number; started: number; succeeded: number; failed: number };
}

export interface ReviewRequest {
  stepId: string;
  requestedAt: string;
  expiresAt?: string;
  message?: string;
  default?: Decision;
}

export interface ReviewRecord {
  stepId: string;
  decision: Decision;
  comment?: string;
  reviewer?: string;
  decidedAt: string;
  via: 'update' | 'signal' | 'timeout';
}

/** The decision delivered by the `review` update (or signal). */
export interface ReviewDecision {
  decision: Decision;
  comment?: string;
  reviewer?: string;
  /** When given, the decision applies only to this review step (signed links name it). */
  stepId?: string;
}

export interface ProgressReport {
  stepId: string;
  /** Percent, 0–100, as the tool printed it. */
  progress?: number;
  message?: string;
  attempt?: number;
}

export interface JobStatus {
  jobId: string;
  kind: 'tool' | 'pipeline';
  /** Tool or pipeline name. */
  name: string;
  clientId: string;
  labels: Record<string, string>;
  state: JobState;
  progress?: number;
  message?: string;
  queuedReason?: string;
  steps: StepStatus[];
  /** The review being waited for, if any. */
  review?: ReviewRequest;
  reviews: ReviewRecord[];
  createdAt: string;
  notBefore?: string;
  startedAt?: string;
  finishedAt?: string;
  /** The job's result: the tool's result, or for pipelines the last step's. */
  result?: StepResult;
  error?: JobError;
  retryOf?: string;
  /** Grows whenever the job's history does (see JobTracker.snapshot); used as the SSE event id. */
  version?: number;
}
