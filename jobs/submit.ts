// Submitting a job: check the request (tool or pipeline, input against its schema, notBefore, notify, labels),
// snapshot the tool/pipeline from config, and start the workflow with the job id as workflow id. An idempotency
// key maps to a fixed job id, so resubmitting returns the same job and never starts a second one.
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FieldError } from '../config/input';
import { LABEL_KEY_PATTERN } from '../config/names';
import type { LongHaulConfig } from '../config/load';
import { notifyTargetSchema, reviewSchema } from '../config/schema';
import { toMs, DURATION_PATTERN } from '../workflows/durations';
import { CLIENT_KEY, CREATED_KEY, LABELS_KEY, PIPELINE_KEY, STATE_KEY, TOOL_KEY } from '../workflows/search-attributes';
import type {
  JobInput,
  JobMeta,
  JobStatus,
  NotifyTarget,
  PipelineInput,
  ReviewSpec,
  StepResult,
  ToolSpec,
} from '../workflows/types';
import { pipelineJobStatus, toolJobStatus } from '../workflows/initial-status';
import { jobIdForKey, newJobId } from './ids';

export interface SubmitRequest {
  tool?: string;
  pipeline?: string;
  input?: unknown;
  /** An ISO time, or a delay from now such as "2h". */
  notBefore?: string;
  notify?: NotifyTarget;
  labels?: Record<string, string>;
  idempotencyKey?: string;
  /** A review gate after a tool job (overrides the tool's). */
  review?: ReviewSpec;
}

export interface SubmitOptions {
  retryOf?: string;
  /** Redrive: results of steps that succeeded in an earlier run of the same pipeline. */
  reuse?: Record<string, StepResult>;
  /** The pipeline snapshot to run instead of the configured one (redrive keeps the original definition). */
  pipelineSpec?: PipelineInput['pipeline'];
  /** Test knob: continue the pipeline as new after this many history events. */
  continueAsNewAfterEvents?: number;
  now?: Date;
}

export interface Submitted {
  jobId: string;
  kind: 'tool' | 'pipeline';
  name: string;
  /** False when an idempotency key named a job that already existed. */
  created: boolean;
  /** For a new job: the status it starts with (what the `status` query shows before the workflow has run), so
   * callers can answer without waiting for a worker. */
  status?: JobStatus;
}

/** A request that cannot be accepted; `status` is the HTTP status it deserves. */
export class SubmitError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 422,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'SubmitError';
  }
}

const MAX_LABELS = 20;

export async function submitJob(
  client: Client,
  config: LongHaulConfig,
  clientId: string,
  req: SubmitRequest,
  opts: SubmitOptions = {},
): Promise<Submitted> {
  const now = opts.now ?? new Date();
  if (!req || typeof req !== 'object') throw new SubmitError('the request must be a JSON object', 400);
  if ((req.tool === undefined) === (req.pipeline === undefined)) {
    throw new SubmitError('give exactly one of "tool" or "pipeline"', 400);
  }
  const errors: FieldError[] = [];
  const notBefore = parseNotBefore(req.notBefore, now, errors);
  const notify = checkNotify(req.notify, errors);
  const labels = checkLabels(req.labels, errors);
  const review = req.review === undefined ? undefined : checkReview(req.review, errors);
  if (
    req.idempotencyKey !== undefined &&
    (typeof req.idempotencyKey !== 'string' || !/^.{1,200}$/s.test(req.idempotencyKey))
  ) {
    errors.push({ field: '/idempotencyKey', message: 'must be a string of 1 to 200 characters' });
  }

  let kind: 'tool' | 'pipeline';
  let name: string;
  let validate;
  let tools: ToolSpec[];
  if (req.tool !== undefined) {
    kind = 'tool';
    name = String(req.tool);
    const t = config.tools.get(name);
    if (!t)
      throw new SubmitError(`unknown tool ${JSON.stringify(name)}`, 400, [{ field: '/tool', message: 'no such tool' }]);
    validate = t.validateInput;
    tools = [t.spec];
  } else {
    kind = 'pipeline';
    name = String(req.pipeline);
    const p = config.pipelines.get(name);
    if (!p) {
      throw new SubmitError(`unknown pipeline ${JSON.stringify(name)}`, 400, [
        { field: '/pipeline', message: 'no such pipeline' },
      ]);
    }
    validate = p.validateInput;
    tools = Object.values((opts.pipelineSpec ?? p.spec).tools);
  }
  const checked = validate(req.input ?? {});
  if (!checked.ok) errors.push(...checked.errors.map((e) => ({ field: `/input${e.field}`, message: e.message })));
  if (errors.length) throw new SubmitError('the request is not valid', 422, errors);
  if (kind === 'pipeline' && review) {
    throw new SubmitError('"review" applies to tool jobs; pipelines declare review steps', 400, [
      { field: '/review', message: 'not allowed for pipelines' },
    ]);
  }

  const jobId = req.idempotencyKey ? jobIdForKey(config.secret, clientId, req.idempotencyKey) : newJobId();
  const resourceCapacities: Record<string, number> = {};
  for (const t of tools) for (const r of Object.keys(t.resources ?? {})) resourceCapacities[r] = config.resources[r];
  const meta: JobMeta = {
    jobId,
    clientId,
    labels,
    notBefore,
    notify,
    resourceCapacities,
    submittedAt: now.toISOString(),
    retryOf: opts.retryOf,
  };
  const searchAttributes = [
    { key: CLIENT_KEY, value: clientId },
    { key: STATE_KEY, value: 'queued' },
    { key: CREATED_KEY, value: now },
    kind === 'tool' ? { key: TOOL_KEY, value: name } : { key: PIPELINE_KEY, value: name },
    ...(labels && Object.keys(labels).length
      ? [{ key: LABELS_KEY, value: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }]
      : []),
  ];
  // What the key stands for: a later request with the same key must ask for the same thing.
  const fingerprint = requestFingerprint({ kind, name, input: checked.ok ? checked.value : {}, req });
  const common = {
    workflowId: jobId,
    taskQueue: config.taskQueue,
    memo: { longhaulRequest: fingerprint },
    typedSearchAttributes: searchAttributes as any,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
  };
  if (req.idempotencyKey && (await sameRequest(client, jobId, fingerprint)))
    return { jobId, kind, name, created: false };
  let status: JobStatus;
  try {
    if (kind === 'tool') {
      const input: JobInput = {
        ...meta,
        tool: config.tools.get(name)!.spec,
        input: checked.ok ? checked.value : {},
        review,
      };
      status = toolJobStatus(input);
      await client.workflow.start('job', { ...common, args: [input] });
    } else {
      const input: PipelineInput = {
        ...meta,
        pipeline: opts.pipelineSpec ?? config.pipelines.get(name)!.spec,
        input: checked.ok ? checked.value : {},
        reuse: opts.reuse,
        continueAsNewAfterEvents: opts.continueAsNewAfterEvents,
      };
      status = pipelineJobStatus(input);
      await client.workflow.start('pipeline', { ...common, args: [input] });
    }
    // A concurrent submission with the same key gets the same id; USE_EXISTING makes it join that run.
    return { jobId, kind, name, created: true, status };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError && req.idempotencyKey) {
      await sameRequest(client, jobId, fingerprint); // the keyed job exists (and has finished): same request?
      return { jobId, kind, name, created: false };
    }
    throw err;
  }
}

/** Whether the keyed job exists; a 409 when it was made by a different request. */
async function sameRequest(client: Client, jobId: string, fingerprint: string): Promise<boolean> {
  let memo: Record<string, unknown> | undefined;
  try {
    memo = (await client.workflow.getHandle(jobId).describe()).memo;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
  if (memo?.longhaulRequest !== undefined && memo.longhaulRequest !== fingerprint) {
    throw new SubmitError('this idempotency key was already used for a different request', 409);
  }
  return true;
}

/** A digest of what a request asks for (the validated input, and the options as given). */
function requestFingerprint(r: { kind: string; name: string; input: unknown; req: SubmitRequest }): string {
  const { notBefore, notify, labels, review } = r.req;
  return createHash('sha256')
    .update(canonical({ kind: r.kind, name: r.name, input: r.input, notBefore, notify, labels, review }))
    .digest('base64url');
}

/** JSON with object keys sorted, so that key order does not change the digest. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function parseNotBefore(v: unknown, now: Date, errors: FieldError[]): string | undefined {
  if (v === undefined || v === null) return undefined;
  const t =
    typeof v === 'string' && DURATION_PATTERN.test(v.trim())
      ? now.getTime() + toMs(v)
      : typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)
        ? Date.parse(v)
        : NaN;
  // A huge duration ("99999999d") lands beyond the last representable date: invalid input, not a crash.
  if (Number.isNaN(new Date(t).getTime())) {
    errors.push({ field: '/notBefore', message: 'must be an ISO 8601 time (with T) or a duration such as "2h"' });
    return undefined;
  }
  return new Date(t).toISOString();
}

function checkNotify(v: unknown, errors: FieldError[]): NotifyTarget | undefined {
  if (v === undefined) return undefined;
  const r = notifyTargetSchema.safeParse(v);
  if (r.success) return r.data;
  for (const i of r.error.issues)
    errors.push({ field: `/notify/${i.path.join('/')}`.replace(/\/$/, ''), message: i.message });
  return undefined;
}

function checkReview(v: unknown, errors: FieldError[]): ReviewSpec | undefined {
  const r = reviewSchema.safeParse(v);
  if (r.success) return r.data;
  for (const i of r.error.issues)
    errors.push({ field: `/review/${i.path.join('/')}`.replace(/\/$/, ''), message: i.message });
  return undefined;
}

function checkLabels(v: unknown, errors: FieldError[]): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    errors.push({ field: '/labels', message: 'must be an object of strings' });
    return undefined;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_LABELS) errors.push({ field: '/labels', message: `at most ${MAX_LABELS} labels` });
  for (const [k, val] of entries) {
    if (!LABEL_KEY_PATTERN.test(k))
      errors.push({ field: `/labels/${k}`, message: 'key: letters, digits, _ . -, up to 63' });
    if (typeof val !== 'string' || val.length > 200 || val.includes('\n')) {
      errors.push({ field: `/labels/${k}`, message: 'value must be a one-line string of at most 200 characters' });
    }
  }
  return v as Record<string, string>;
}
