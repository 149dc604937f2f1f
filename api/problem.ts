// Errors as RFC 9457 problem details (application/problem+json): a title, a useful detail, and for validation a
// per-field list. Unexpected errors are logged with their stack and answered with a generic 500, never a trace.
import { status as grpcStatus } from '@grpc/grpc-js';
import { isGrpcServiceError, ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { FieldError } from '../config/input';
import { SubmitError } from '../jobs/submit';

export interface ProblemExtras {
  errors?: FieldError[];
  headers?: Record<string, string>;
  [k: string]: unknown;
}

/** Throw (or pass to next) from a handler to answer with a problem. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extras: ProblemExtras = {},
  ) {
    super(detail ?? title);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendProblem(
  res: Response,
  status: number,
  detail?: string,
  extras: ProblemExtras = {},
  title?: string,
): void {
  const { headers, ...rest } = extras;
  for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: 'about:blank',
        title: title ?? TITLES[status] ?? 'Error',
        status,
        ...(detail ? { detail } : {}),
        ...(res.req?.id ? { instance: `urn:request:${String(res.req.id)}` } : {}),
        ...rest,
      }),
    );
}

/** The gRPC status code of a Temporal client error, if it is one. */
export function grpcCode(err: unknown): number | undefined {
  const e = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(e) ? e.code : undefined;
}

/** A query or update that no worker answered: none polls the job's task queue, or none answered in time. */
export function noWorker(err: unknown): boolean {
  const code = grpcCode(err);
  return code === grpcStatus.FAILED_PRECONDITION || code === grpcStatus.DEADLINE_EXCEEDED;
}

export function workerUnavailable(jobId: string): HttpProblem {
  return new HttpProblem(503, 'Service Unavailable', `no worker answered for job ${jobId}; try again later`, {
    headers: { 'Retry-After': '10' },
  });
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, 404, `no route for ${req.method} ${req.path}`);
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err instanceof HttpProblem) return sendProblem(res, err.status, err.detail, err.extras, err.title);
  if (err instanceof SubmitError) {
    return sendProblem(res, err.status, err.message, err.errors.length ? { errors: err.errors } : {});
  }
  if (err instanceof WorkflowNotFoundError) return sendProblem(res, 404, 'no such job');
  // Temporal trouble that is not a bug: its service unreachable, or a payload over its size limit.
  const code = grpcCode(err);
  if (code === grpcStatus.UNAVAILABLE) return sendProblem(res, 503, 'Temporal is not reachable; try again later');
  const grpcDetail = String((err instanceof ServiceError ? err.cause : err)?.details ?? '');
  if (code === grpcStatus.INVALID_ARGUMENT && /over the .*limit/.test(grpcDetail)) {
    return sendProblem(res, 413, grpcDetail);
  }
  // body-parser's errors carry a status and a type.
  const status =
    typeof err?.status === 'number' ? err.status : typeof err?.statusCode === 'number' ? err.statusCode : 0;
  if (err?.type === 'entity.too.large') return sendProblem(res, 413, `request body larger than ${err.limit} bytes`);
  if (err?.type === 'entity.parse.failed')
    return sendProblem(res, 400, `request body is not valid JSON: ${err.message}`);
  if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported')
    return sendProblem(res, 415, err.message);
  if (status >= 400 && status < 500) return sendProblem(res, status, err.expose ? err.message : undefined);
  req.log?.error({ err }, 'request failed');
  sendProblem(res, 500, 'an unexpected error occurred; it has been logged');
};
