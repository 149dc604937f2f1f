// The job routes: submit, look up, list, cancel, review and retry. A job's details come from its workflow's
// `status` query (which needs a worker: 503 when none answers); the list comes from visibility alone, so it
// answers quickly however many jobs there are.
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, optionalTsToDate } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { Router, type Request } from 'express';
import type { FieldError } from '../../config/input';
import { LABEL_KEY_PATTERN, NAME_PATTERN } from '../../config/names';
import { retryJob } from '../../jobs/retry';
import { submitJob, type SubmitRequest } from '../../jobs/submit';
import { reviewUpdate } from '../../workflows/definitions';
import {
  CLIENT_KEY,
  CREATED_KEY,
  LABELS_KEY,
  PIPELINE_KEY,
  STATE_KEY,
  TOOL_KEY,
} from '../../workflows/search-attributes';
import { isFinal, JOB_STATES, OPEN_STATES } from '../../workflows/states';
import type { JobState, JobStatus, ReviewDecision } from '../../workflows/types';
import type { Principal } from '../auth';
import type { ApiDeps } from '../deps';
import { apiMetrics } from '../metrics';
import { apiJob, effectiveState, findJob, jobLinks, jobStatus, QUERY_TIMEOUT_MS } from '../job-access';
import { grpcCode, HttpProblem, noWorker, workerUnavailable } from '../problem';

const SUBMIT_FIELDS = ['tool', 'pipeline', 'input', 'notBefore', 'notify', 'labels', 'idempotencyKey', 'review'];
const REVIEW_FIELDS = ['decision', 'comment', 'reviewer', 'stepId'];
const RETRY_FIELDS = ['from'];
const LIST_PARAMS = ['state', 'tool', 'pipeline', 'label', 'createdAfter', 'createdBefore', 'limit', 'pageToken'];

const CONTROL = /\p{Cc}/u;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** How long the API waits for a worker to confirm a review decision. */
const UPDATE_TIMEOUT_MS = 15_000;

export function jobsRoutes(deps: ApiDeps): Router {
  const { client, config } = deps;
  const router = Router();

  router.post('/jobs', async (req, res) => {
    const principal = req.principal!;
    const body = objectBody(req, true)!;
    const errors = unknownFields(body, SUBMIT_FIELDS);
    const header = req.get('idempotency-key');
    if (header !== undefined) {
      if (!/^.{1,200}$/.test(header)) {
        errors.push({ field: 'Idempotency-Key', message: 'must be 1 to 200 characters' });
      } else if (body.idempotencyKey !== undefined && body.idempotencyKey !== header) {
        errors.push({ field: '/idempotencyKey', message: 'differs from the Idempotency-Key header' });
      }
    }
    if (errors.length) throw invalid(errors);
    const request = { ...body, idempotencyKey: body.idempotencyKey !== undefined ? body.idempotencyKey : header };
    const submitted = await submitJob(client, config, principal.clientId, request as SubmitRequest);
    res.location(`/v1/jobs/${submitted.jobId}`);
    if (submitted.created && submitted.status) {
      apiMetrics(deps).jobsSubmitted.inc({ kind: submitted.kind, name: submitted.name });
      res.status(201).json(apiJob(submitted.status));
      return;
    }
    // The idempotency key named an existing job: show it as it is now.
    const ref = await findJob(client, principal, submitted.jobId);
    res.status(200).json(apiJob(await jobStatus(ref)));
  });

  router.get('/jobs', async (req, res) => {
    const { query, limit, pageToken } = listRequest(req.query as Record<string, unknown>, req.principal!);
    let page;
    const list = (q: string) =>
      client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        query: q,
        pageSize: limit,
        nextPageToken: pageToken,
      });
    try {
      try {
        page = await list(orderBySupported ? query : withoutOrder(query));
      } catch (err) {
        // Temporal with SQL visibility refuses ORDER BY; its default order (newest first, open runs first) will do.
        if (!orderBySupported || grpcCode(err) !== grpcStatus.INVALID_ARGUMENT || !/order by/i.test(String(err))) {
          throw err;
        }
        orderBySupported = false;
        page = await list(withoutOrder(query));
      }
    } catch (err) {
      if (pageToken && grpcCode(err) === grpcStatus.INVALID_ARGUMENT) {
        throw invalid([{ field: 'pageToken', message: 'not a page token of this list' }]);
      }
      throw err;
    }
    const items = (page.executions ?? []).map(listItem);
    const next = page.nextPageToken?.length ? Buffer.from(page.nextPageToken).toString('base64url') : undefined;
    res.json({ items, ...(next ? { nextPageToken: next } : {}) });
  });

  router.get('/jobs/:id', async (req, res) => {
    const ref = await findJob(client, req.principal!, req.params.id);
    res.json(apiJob(await jobStatus(ref)));
  });

  router.post('/jobs/:id/cancel', async (req, res) => {
    const ref = await findJob(client, req.principal!, req.params.id);
    const before = await jobStatus(ref);
    if (isFinal(before.state) || ref.executionStatus !== 'RUNNING') {
      throw new HttpProblem(409, 'Conflict', `job ${ref.jobId} is ${before.state}`, { state: before.state });
    }
    try {
      await ref.handle.cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      throw new HttpProblem(409, 'Conflict', `job ${ref.jobId} has finished`);
    }
    // Cancellation is asynchronous: the job ends `canceled` once its processes and children have stopped.
    const after = await jobStatus(ref).catch(() => before);
    res.status(202).json(apiJob(after));
  });

  router.post('/jobs/:id/review', async (req, res) => {
    const principal = req.principal!;
    const decision = reviewDecision(objectBody(req, true)!, principal);
    const ref = await findJob(client, principal, req.params.id);
    const notAwaiting = (state: string) =>
      new HttpProblem(409, 'Conflict', `job ${ref.jobId} is ${state}, not awaiting review`, { state });
    // Asking first gives a quick 503 when no worker runs (an update would wait for one) and a plain 409.
    const before = await jobStatus(ref);
    if (before.state !== 'awaiting_review') throw notAwaiting(before.state);
    let after: JobStatus;
    try {
      after = await client.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () =>
        ref.handle.executeUpdate(reviewUpdate, { args: [decision] }),
      );
    } catch (err) {
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === 'NotAwaitingReview') {
        throw new HttpProblem(409, 'Conflict', cause.message);
      }
      if (cause instanceof ApplicationFailure && cause.type === 'InvalidDecision') {
        throw new HttpProblem(400, 'Bad Request', cause.message);
      }
      if (err instanceof WorkflowNotFoundError || /already completed/.test(cause?.message ?? '')) {
        // It ended meanwhile: say how.
        const state = await findJob(client, principal, ref.jobId)
          .then(async (again) => (await jobStatus(again)).state)
          .catch(() => 'finished');
        throw notAwaiting(state);
      }
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || noWorker(err)) {
        throw new HttpProblem(
          503,
          'Service Unavailable',
          `no worker confirmed the decision on job ${ref.jobId} in time; it may still be applied, see the job's status`,
          { headers: { 'Retry-After': '10' } },
        );
      }
      throw err;
    }
    res.json(apiJob(after));
  });

  router.post('/jobs/:id/retry', async (req, res) => {
    const principal = req.principal!;
    const body = objectBody(req, false) ?? {};
    const errors = unknownFields(body, RETRY_FIELDS);
    if (body.from !== undefined && body.from !== 'start' && body.from !== 'failed') {
      errors.push({ field: '/from', message: 'must be "start" or "failed"' });
    }
    if (errors.length) throw invalid(errors);
    // The same 404 as every other route for malformed, unknown and others' ids.
    const ref = await findJob(client, principal, req.params.id);
    let submitted;
    try {
      // retryJob asks the old job for its status, which needs a worker.
      submitted = await client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
        retryJob(client, config, principal.clientId, ref.jobId, {
          from: body.from as 'start' | 'failed' | undefined,
          admin: principal.admin,
        }),
      );
    } catch (err) {
      throw noWorker(err) ? workerUnavailable(ref.jobId) : err;
    }
    res.location(`/v1/jobs/${submitted.jobId}`);
    res.status(201).json(apiJob(submitted.status!));
  });

  return router;
}

// ---- request bodies ----

/** The request's JSON object body: 415 for a body that is not JSON, 400 for JSON that is not an object. */
function objectBody(req: Request, required: boolean): Record<string, unknown> | undefined {
  if (req.body === undefined) {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody) {
      throw new HttpProblem(
        415,
        'Unsupported Media Type',
        'send the body as JSON, with Content-Type: application/json',
      );
    }
    if (required) throw new HttpProblem(400, 'Bad Request', 'the request body must be a JSON object');
    return undefined;
  }
  if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) {
    throw new HttpProblem(400, 'Bad Request', 'the request body must be a JSON object');
  }
  return req.body as Record<string, unknown>;
}

function unknownFields(body: Record<string, unknown>, allowed: string[]): FieldError[] {
  return Object.keys(body)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({ field: `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, message: 'unknown field' }));
}

function invalid(errors: FieldError[]): HttpProblem {
  return new HttpProblem(400, 'Bad Request', 'the request is not valid', { errors });
}

function reviewDecision(body: Record<string, unknown>, principal: Principal): ReviewDecision {
  const errors = unknownFields(body, REVIEW_FIELDS);
  const { decision, comment, reviewer, stepId } = body;
  if (decision !== 'approve' && decision !== 'reject') {
    errors.push({ field: '/decision', message: 'must be "approve" or "reject"' });
  }
  if (comment !== undefined && (typeof comment !== 'string' || comment.length > 4000)) {
    errors.push({ field: '/comment', message: 'must be a string of at most 4000 characters' });
  }
  if (reviewer !== undefined && (typeof reviewer !== 'string' || !/^.{1,200}$/.test(reviewer))) {
    errors.push({ field: '/reviewer', message: 'must be a one-line string of 1 to 200 characters' });
  }
  if (stepId !== undefined && (typeof stepId !== 'string' || !NAME_PATTERN.test(stepId))) {
    errors.push({ field: '/stepId', message: 'must be a step id' });
  }
  if (errors.length) throw invalid(errors);
  return {
    decision: decision as ReviewDecision['decision'],
    ...(comment !== undefined ? { comment: comment as string } : {}),
    reviewer: (reviewer as string | undefined) ?? principal.clientId,
    ...(stepId !== undefined ? { stepId: stepId as string } : {}),
  };
}

// ---- the list ----

interface ListRequest {
  query: string;
  limit: number;
  pageToken?: Buffer;
}

/** A string literal for a visibility query. Every value is validated first; escaping is the second line. */
function quote(s: string): string {
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** The visibility query for a list request; 400 with a field list for anything not understood. */
export function listRequest(params: Record<string, unknown>, principal: Principal): ListRequest {
  const errors: FieldError[] = [];
  for (const k of Object.keys(params)) {
    if (!LIST_PARAMS.includes(k)) errors.push({ field: k.slice(0, 100), message: 'unknown parameter' });
  }
  const all = (k: string): string[] => {
    const v = params[k];
    const vs = v === undefined ? [] : Array.isArray(v) ? v : [v];
    // The simple query parser only gives strings; anything else is refused rather than coerced.
    if (vs.some((x) => typeof x !== 'string')) {
      errors.push({ field: k, message: 'must be a string' });
      return [];
    }
    return vs as string[];
  };
  const one = (k: string): string | undefined => {
    const vs = all(k);
    if (vs.length > 1) errors.push({ field: k, message: 'give it once' });
    return vs[0];
  };
  const list = (k: string): string[] | undefined => {
    const vs = all(k);
    return vs.length ? vs.flatMap((v) => v.split(',')).map((v) => v.trim()) : undefined;
  };

  // Only the caller's jobs (an admin's: everyone's), and one entry per job: a continued-as-new run is not.
  const conds = [
    principal.admin ? `${CLIENT_KEY.name} IS NOT NULL` : `${CLIENT_KEY.name} = ${quote(principal.clientId)}`,
    `ExecutionStatus != 'ContinuedAsNew'`,
  ];

  const states = list('state');
  if (states) {
    const bad = states.filter((s) => !JOB_STATES.includes(s as JobState));
    if (bad.length) errors.push({ field: 'state', message: `must be one or more of ${JOB_STATES.join(', ')}` });
    else conds.push(stateCondition(states as JobState[]));
  }

  const tools = list('tool');
  const pipelines = list('pipeline');
  if (tools && pipelines) errors.push({ field: 'pipeline', message: 'give tool or pipeline, not both' });
  for (const [field, names, key] of [
    ['tool', tools, TOOL_KEY.name],
    ['pipeline', pipelines, PIPELINE_KEY.name],
  ] as const) {
    if (!names) continue;
    if (names.every((n) => NAME_PATTERN.test(n))) conds.push(`${key} IN (${names.map(quote).join(', ')})`);
    else errors.push({ field, message: 'must be one or more names (letters, digits, _ and -), comma-separated' });
  }

  for (const label of all('label')) {
    const eq = label.indexOf('=');
    const k = eq < 0 ? label : label.slice(0, eq);
    const v = eq < 0 ? '' : label.slice(eq + 1);
    if (eq < 0 || !LABEL_KEY_PATTERN.test(k) || v.length > 200 || CONTROL.test(v)) {
      errors.push({ field: 'label', message: 'must be KEY=VALUE (a label key, and a one-line value of at most 200)' });
    } else conds.push(`${LABELS_KEY.name} = ${quote(`${k}=${v}`)}`);
  }

  for (const [field, op] of [
    ['createdAfter', '>'],
    ['createdBefore', '<'],
  ] as const) {
    const v = one(field);
    if (v === undefined) continue;
    const t = ISO_TIME.test(v) ? Date.parse(v) : NaN;
    if (Number.isNaN(t)) {
      errors.push({ field, message: 'must be an ISO 8601 date or time with a zone, such as 2025-01-31T12:00:00Z' });
    } else {
      conds.push(`${CREATED_KEY.name} ${op} ${quote(new Date(t).toISOString())}`); // both bounds exclusive
    }
  }

  let limit = 20;
  const l = one('limit');
  if (l !== undefined) {
    limit = /^\d{1,3}$/.test(l) ? Number(l) : 0;
    if (limit < 1 || limit > 100) errors.push({ field: 'limit', message: 'must be an integer from 1 to 100' });
  }

  let pageToken: Buffer | undefined;
  const p = one('pageToken');
  if (p !== undefined) {
    if (/^[A-Za-z0-9_-]{1,4000}$/.test(p)) pageToken = Buffer.from(p, 'base64url');
    else errors.push({ field: 'pageToken', message: 'not a page token of this list' });
  }

  if (errors.length) throw invalid(errors);
  // Submission time, not StartTime: a pipeline that continued as new keeps its place.
  return { query: `${conds.join(' AND ')} ORDER BY ${CREATED_KEY.name} DESC`, limit, pageToken };
}

/** False once the frontend has refused ORDER BY (real Temporal with SQL visibility). */
let orderBySupported = true;

function withoutOrder(query: string): string {
  return query.replace(/ ORDER BY .*$/, '');
}

/** Jobs in any of `states`, as effectiveState sees them. */
function stateCondition(states: JobState[]): string {
  const open = states.filter((s) => !isFinal(s));
  const final = states.filter((s) => isFinal(s));
  const inList = (ss: readonly string[]) => `${STATE_KEY.name} IN (${ss.map(quote).join(', ')})`;
  const alts: string[] = [];
  if (open.length) alts.push(`(${inList(open)} AND ExecutionStatus = 'Running')`);
  if (final.length) alts.push(inList(final));
  if (final.includes('canceled')) {
    alts.push(`(${inList(OPEN_STATES)} AND ExecutionStatus IN ('Terminated', 'Canceled'))`);
  }
  if (final.includes('failed')) alts.push(`(${inList(OPEN_STATES)} AND ExecutionStatus IN ('Failed', 'TimedOut'))`);
  return `(${alts.join(' OR ')})`;
}

const EXECUTION_STATUS: Record<number, string> = {
  1: 'RUNNING',
  2: 'COMPLETED',
  3: 'FAILED',
  4: 'CANCELLED',
  5: 'TERMINATED',
  6: 'CONTINUED_AS_NEW',
  7: 'TIMED_OUT',
};

/** A list entry, from visibility alone. */
function listItem(info: temporal.api.workflow.v1.IWorkflowExecutionInfo): Record<string, unknown> {
  const fields = info.searchAttributes?.indexedFields ?? {};
  const read = (key: string): unknown => {
    const payload = fields[key];
    if (!payload) return undefined;
    try {
      return defaultPayloadConverter.fromPayload(payload);
    } catch {
      return undefined;
    }
  };
  const id = info.execution?.workflowId ?? '';
  const tool = read(TOOL_KEY.name);
  const labels: Record<string, string> = {};
  const rawLabels = read(LABELS_KEY.name);
  for (const kv of Array.isArray(rawLabels) ? rawLabels : []) {
    const s = String(kv);
    const eq = s.indexOf('=');
    if (eq > 0) labels[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const state = read(STATE_KEY.name);
  const finishedAt = optionalTsToDate(info.closeTime);
  return {
    id,
    kind: typeof tool === 'string' ? 'tool' : 'pipeline',
    name: typeof tool === 'string' ? tool : read(PIPELINE_KEY.name),
    state: effectiveState(
      typeof state === 'string' ? state : undefined,
      EXECUTION_STATUS[Number(info.status)] ?? 'RUNNING',
    ),
    labels,
    createdAt: createdAt(read(CREATED_KEY.name)) ?? optionalTsToDate(info.startTime)?.toISOString(),
    ...(finishedAt ? { finishedAt: finishedAt.toISOString() } : {}),
    links: jobLinks(id),
  };
}

function createdAt(v: unknown): string | undefined {
  const t = typeof v === 'string' || v instanceof Date ? new Date(v) : undefined;
  return t && !Number.isNaN(t.getTime()) ? t.toISOString() : undefined;
}
