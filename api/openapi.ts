// The OpenAPI 3.1 description of the HTTP API, served at /v1/openapi.json. Built from config so that `tool` and
// `pipeline` list the configured names. test/api/openapi.test.ts validates it and checks that every route the app
// registers is described here, so a new route without documentation fails the tests.
import type { LongHaulConfig } from '../config/load';
import { JOB_ID_PATTERN } from '../jobs/ids';

type Obj = Record<string, unknown>;

const ref = (name: string): Obj => ({ $ref: `#/components/schemas/${name}` });
const param = (name: string): Obj => ({ $ref: `#/components/parameters/${name}` });
const response = (name: string): Obj => ({ $ref: `#/components/responses/${name}` });
const json = (schema: Obj): Obj => ({ 'application/json': { schema } });
const str = (description: string, extra: Obj = {}): Obj => ({ type: 'string', description, ...extra });

/** Error responses: every operation may answer with a problem; authenticated ones add 401 and 429. */
function errors(...statuses: number[]): Obj {
  const names: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    404: 'NotFound',
    409: 'Conflict',
    413: 'ContentTooLarge',
    415: 'UnsupportedMediaType',
    416: 'RangeNotSatisfiable',
    422: 'UnprocessableContent',
    429: 'TooManyRequests',
    503: 'ServiceUnavailable',
  };
  const out: Obj = {};
  for (const s of statuses) out[String(s)] = response(names[s]);
  out.default = response('Error');
  return out;
}

const AUTH = [401, 429];
const BODY = [400, 413, 415, 422];

export function openApiDocument(config: LongHaulConfig): Obj {
  const toolNames = [...config.tools.keys()];
  const pipelineNames = [...config.pipelines.keys()];
  const named = (names: string[], description: string): Obj => ({
    type: 'string',
    description,
    ...(names.length ? { enum: names } : {}),
  });
  const jobIdParam = param('JobId');

  const paths: Obj = {
    '/healthz': {
      get: {
        operationId: 'healthz',
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        security: [],
        responses: {
          '200': {
            description: 'Alive',
            content: json({ type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }),
          },
          default: response('Error'),
        },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        tags: ['operations'],
        summary: 'Readiness: Temporal answers within 2 seconds',
        security: [],
        responses: {
          '200': {
            description: 'Ready',
            content: json({
              type: 'object',
              required: ['status', 'temporal'],
              properties: { status: { const: 'ready' }, temporal: str('The Temporal address used') },
            }),
          },
          ...errors(503),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'Process metrics, `longhaul_http_requests_total` and `longhaul_http_request_duration_seconds` by method, ' +
          'route pattern and status, and `longhaul_jobs_submitted_total` by kind and name.',
        security: [],
        responses: {
          '200': {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          default: response('Error'),
        },
      },
    },
    '/v1/openapi.json': {
      get: {
        operationId: 'openapi',
        tags: ['operations'],
        summary: 'This document',
        security: [],
        responses: {
          '200': { description: 'The OpenAPI 3.1 document', content: json({ type: 'object' }) },
          default: response('Error'),
        },
      },
    },
    '/v1/tools': {
      get: {
        operationId: 'listTools',
        tags: ['catalog'],
        summary: 'The tools a job may run',
        responses: {
          '200': { description: 'The configured tools', content: json(list('Tool')) },
          ...errors(...AUTH),
        },
      },
    },
    '/v1/tools/{name}': {
      get: {
        operationId: 'getTool',
        tags: ['catalog'],
        summary: 'One tool',
        parameters: [{ name: 'name', in: 'path', required: true, schema: named(toolNames, 'Tool name') }],
        responses: { '200': { description: 'The tool', content: json(ref('Tool')) }, ...errors(...AUTH, 404) },
      },
    },
    '/v1/pipelines': {
      get: {
        operationId: 'listPipelines',
        tags: ['catalog'],
        summary: 'The pipelines a job may run',
        responses: {
          '200': { description: 'The configured pipelines', content: json(list('Pipeline')) },
          ...errors(...AUTH),
        },
      },
    },
    '/v1/pipelines/{name}': {
      get: {
        operationId: 'getPipeline',
        tags: ['catalog'],
        summary: 'One pipeline',
        parameters: [{ name: 'name', in: 'path', required: true, schema: named(pipelineNames, 'Pipeline name') }],
        responses: {
          '200': { description: 'The pipeline', content: json(ref('Pipeline')) },
          ...errors(...AUTH, 404),
        },
      },
    },
    '/v1/jobs': {
      post: {
        operationId: 'submitJob',
        tags: ['jobs'],
        summary: 'Submit a job',
        description:
          'Runs a tool or a pipeline. The input is validated against its schema (see `GET /v1/tools/{name}`) ' +
          'before anything starts. With an idempotency key (body or header), the same key from the same client ' +
          'returns the same job and never starts a second one; the same key with a different request is a 409.',
        parameters: [param('IdempotencyKey')],
        requestBody: { required: true, content: json(ref('SubmitRequest')) },
        responses: {
          '201': {
            description: 'The job was created',
            headers: { Location: { $ref: '#/components/headers/Location' } },
            content: json(ref('Job')),
          },
          '200': {
            description: 'An idempotency key named a job that already exists: that job',
            headers: { Location: { $ref: '#/components/headers/Location' } },
            content: json(ref('Job')),
          },
          ...errors(...BODY, ...AUTH, 409, 503),
        },
      },
      get: {
        operationId: 'listJobs',
        tags: ['jobs'],
        summary: "The caller's jobs, newest first (all clients' jobs for an admin)",
        parameters: [
          {
            name: 'state',
            in: 'query',
            description: 'Only jobs in one of these states (comma-separated), e.g. `queued,running`',
            schema: { type: 'array', items: ref('JobState') },
            style: 'form',
            explode: false,
          },
          {
            name: 'tool',
            in: 'query',
            description: 'Only jobs of one of these tools (comma-separated)',
            schema: { type: 'array', items: named(toolNames, 'Tool name') },
            style: 'form',
            explode: false,
          },
          {
            name: 'pipeline',
            in: 'query',
            description: 'Only jobs of one of these pipelines (comma-separated; not together with `tool`)',
            schema: { type: 'array', items: named(pipelineNames, 'Pipeline name') },
            style: 'form',
            explode: false,
          },
          {
            name: 'label',
            in: 'query',
            description: 'Only jobs with this label, as `key=value`; repeat for several (all must match)',
            schema: { type: 'array', items: { type: 'string', pattern: '^[^=]+=.*$' } },
            style: 'form',
            explode: true,
          },
          {
            name: 'createdAfter',
            in: 'query',
            description: 'Only jobs created after this time (an ISO 8601 date, or a time with a zone)',
            schema: { type: 'string' },
          },
          {
            name: 'createdBefore',
            in: 'query',
            description: 'Only jobs created before this time (an ISO 8601 date, or a time with a zone)',
            schema: { type: 'string' },
          },
          {
            name: 'limit',
            in: 'query',
            description: 'Page size',
            schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          },
          {
            name: 'pageToken',
            in: 'query',
            description: 'The `nextPageToken` of the previous page',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': { description: 'A page of jobs', content: json(ref('JobList')) },
          ...errors(400, ...AUTH, 503),
        },
      },
    },
    '/v1/jobs/{id}': {
      parameters: [jobIdParam],
      get: {
        operationId: 'getJob',
        tags: ['jobs'],
        summary: 'A job: state, progress, steps, review, timestamps, result or error',
        description: "Works for finished jobs too. Another client's job is a 404, like an unknown one.",
        responses: { '200': { description: 'The job', content: json(ref('Job')) }, ...errors(...AUTH, 404, 503) },
      },
    },
    '/v1/jobs/{id}/cancel': {
      parameters: [jobIdParam],
      post: {
        operationId: 'cancelJob',
        tags: ['jobs'],
        summary: 'Cancel a job',
        description:
          'Cancellation is asynchronous: running tool processes are stopped and the job ends `canceled`. ' +
          'A job that has finished is a 409.',
        responses: {
          '202': { description: 'Cancellation was requested; the job as it is now', content: json(ref('Job')) },
          ...errors(...AUTH, 404, 409, 503),
        },
      },
    },
    '/v1/jobs/{id}/review': {
      parameters: [jobIdParam],
      post: {
        operationId: 'reviewJob',
        tags: ['jobs'],
        summary: 'Approve or reject the review the job awaits',
        description: 'A job that is not awaiting review is a 409.',
        requestBody: { required: true, content: json(ref('ReviewDecision')) },
        responses: {
          '200': { description: 'The decision was taken; the job', content: json(ref('Job')) },
          ...errors(400, 413, 415, ...AUTH, 404, 409, 503),
        },
      },
    },
    '/v1/jobs/{id}/retry': {
      parameters: [jobIdParam],
      post: {
        operationId: 'retryJob',
        tags: ['jobs'],
        summary: 'Retry a job that failed or was canceled',
        description:
          'Starts a new job with the same input, linked by `retryOf`. With `{"from": "failed"}` a pipeline is ' +
          'redriven: steps that succeeded are reused, the rest run again.',
        requestBody: { required: false, content: json(ref('RetryRequest')) },
        responses: {
          '201': {
            description: 'The new job',
            headers: { Location: { $ref: '#/components/headers/Location' } },
            content: json(ref('Job')),
          },
          ...errors(...BODY, ...AUTH, 404, 409, 503),
        },
      },
    },
    '/v1/jobs/{id}/events': {
      parameters: [jobIdParam],
      get: {
        operationId: 'jobEvents',
        tags: ['jobs'],
        summary: 'Server-Sent Events of every state and progress change',
        description:
          'Each change is an event `status` with `id: <version>` and `data: <Job as JSON>`. The stream starts ' +
          'with the current status (with `Last-Event-ID`, only if it changed since that id); after a final state ' +
          'it sends an event `end` with `data: {"id", "state"}` and closes.',
        parameters: [
          param('LastEventId'),
          {
            name: 'lastEventId',
            in: 'query',
            description: 'Same as the Last-Event-ID header, for clients that cannot set headers',
            schema: { type: 'string', pattern: '^\\d{1,15}$' },
          },
        ],
        responses: {
          '200': {
            description: 'The event stream',
            content: {
              'text/event-stream': {
                schema: {
                  type: 'string',
                  description: 'SSE frames; each `status` event carries a Job (see components.schemas.Job)',
                },
              },
            },
          },
          ...errors(400, ...AUTH, 404, 503),
        },
      },
    },
    '/v1/jobs/{id}/logs': {
      parameters: [jobIdParam],
      get: {
        operationId: 'jobLogs',
        tags: ['results'],
        summary: "A step's stdout or stderr",
        parameters: [
          {
            name: 'stream',
            in: 'query',
            schema: { type: 'string', enum: ['stdout', 'stderr'], default: 'stdout' },
            description: 'Which output',
          },
          {
            name: 'step',
            in: 'query',
            schema: { type: 'string' },
            description: "Step id (default: the tool job's step; for a pipeline the last step with a log)",
          },
          { name: 'item', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Fan-out item index' },
          {
            name: 'follow',
            in: 'query',
            schema: { type: 'string', enum: ['0', '1', 'true', 'false'] },
            description: 'With 1, keep the response open and stream new output until the step ends',
          },
        ],
        responses: {
          '200': {
            description: 'The log text (streamed as it grows with `follow=1`)',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          ...errors(400, ...AUTH, 404, 503),
        },
      },
    },
    '/v1/jobs/{id}/artifacts': {
      parameters: [jobIdParam],
      get: {
        operationId: 'listArtifacts',
        tags: ['results'],
        summary: "The job's files: each step's logs and the files it kept",
        responses: {
          '200': { description: 'The artifacts', content: json(ref('ArtifactList')) },
          ...errors(...AUTH, 404, 503),
        },
      },
    },
    '/v1/jobs/{id}/artifacts/{name}': {
      parameters: [
        jobIdParam,
        {
          name: 'name',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          description: 'Artifact name as listed, slashes included (e.g. `run/stdout.log`)',
        },
      ],
      get: {
        operationId: 'getArtifact',
        tags: ['results'],
        summary: 'Download an artifact (with HTTP range support)',
        parameters: [param('Range')],
        responses: {
          '200': {
            description: 'The whole file (typed by extension; anything but text, CSV and JSON as an attachment)',
            headers: { 'Accept-Ranges': { schema: { type: 'string', const: 'bytes' } } },
            content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          '206': {
            description: 'The requested range',
            headers: {
              'Content-Range': { schema: { type: 'string' }, description: 'e.g. `bytes 0-99/1234`' },
              'Accept-Ranges': { schema: { type: 'string', const: 'bytes' } },
            },
            content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          '304': { description: 'Not modified since If-Modified-Since' },
          ...errors(400, ...AUTH, 404, 416, 503),
        },
      },
    },
    '/v1/reviews/{token}': {
      parameters: [
        {
          name: 'token',
          in: 'path',
          required: true,
          description: 'The signed token of a review link (names the job, the step and the decision, and expires)',
          schema: { type: 'string', maxLength: 2048 },
        },
      ],
      get: {
        operationId: 'reviewLinkPage',
        tags: ['reviews'],
        summary: 'The confirmation page of a signed approve/reject link',
        description: 'Opening the link never decides anything (mail scanners follow links); the page posts back.',
        security: [],
        responses: {
          '200': {
            description: 'A page asking to confirm the decision (JSON with `Accept: application/json`)',
            content: { 'text/html': { schema: { type: 'string' } }, ...json(ref('ReviewLinkPage')) },
          },
          ...linkErrors(),
        },
      },
      post: {
        operationId: 'reviewLinkDecide',
        tags: ['reviews'],
        summary: 'Take the decision of a signed link',
        security: [],
        requestBody: {
          required: false,
          content: {
            'application/x-www-form-urlencoded': { schema: ref('ReviewLinkForm') },
            ...json(ref('ReviewLinkForm')),
          },
        },
        responses: {
          '200': {
            description: 'The decision was taken (HTML, or JSON with `Accept: application/json`)',
            content: { 'text/html': { schema: { type: 'string' } }, ...json(ref('ReviewLinkDecision')) },
          },
          ...linkErrors(413),
        },
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'longhaul',
      version: '1',
      summary: 'Durable jobs for long-running programs',
      description:
        'Submit tools and pipelines as jobs that survive restarts, follow them live, review them, and fetch their ' +
        'logs and artifacts. Errors are RFC 9457 problem details (`application/problem+json`).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: config.publicUrl }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'jobs', description: 'Submitting and following jobs' },
      { name: 'results', description: 'Logs and artifacts' },
      { name: 'catalog', description: 'Tools and pipelines' },
      { name: 'reviews', description: 'Signed review links (no token needed)' },
      { name: 'operations', description: 'Health, readiness, metrics' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'A client token (LONGHAUL_TOKENS, or config `clients`; `longhaul token create CLIENT`)',
        },
      },
      headers: {
        Location: { description: 'The URL of the job', schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
      },
      parameters: {
        JobId: {
          name: 'id',
          in: 'path',
          required: true,
          description: 'Job id: five groups of four consonants',
          schema: { type: 'string', pattern: JOB_ID_PATTERN.source, examples: ['bkrt-vmqz-hdnf-sgxp-cwjt'] },
        },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          description: 'Same as the `idempotencyKey` body field',
          schema: { type: 'string', minLength: 1, maxLength: 200 },
        },
        LastEventId: {
          name: 'Last-Event-ID',
          in: 'header',
          description: 'Resume after this event id (sent by EventSource on reconnection)',
          schema: { type: 'string' },
        },
        Range: {
          name: 'Range',
          in: 'header',
          description: 'A single byte range, e.g. `bytes=0-99` or `bytes=-100`',
          schema: { type: 'string' },
        },
      },
      responses: {
        BadRequest: problemResponse('The request is malformed (e.g. not JSON, unknown tool)'),
        Unauthorized: {
          ...problemResponse('No bearer token, or one that is not valid'),
          headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
        },
        NotFound: problemResponse("No such job (or another client's), tool, pipeline or file"),
        Conflict: problemResponse('The job is not in a state that allows this (e.g. not awaiting review)'),
        ContentTooLarge: problemResponse('The request body is larger than the limit'),
        UnsupportedMediaType: problemResponse('The request body is not JSON'),
        RangeNotSatisfiable: problemResponse('The range lies outside the file'),
        UnprocessableContent: problemResponse('The request is not valid; `errors` lists each field'),
        TooManyRequests: {
          ...problemResponse("The client's rate limit is exhausted"),
          headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
        },
        ServiceUnavailable: {
          ...problemResponse('Temporal cannot be reached, or no worker answered for the job'),
          headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
        },
        Error: problemResponse('Something went wrong'),
      },
      schemas: schemas(toolNames, pipelineNames),
    },
  };
}

function list(item: string): Obj {
  return { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref(item) } } };
}

function problemResponse(description: string): Obj {
  return { description, content: { 'application/problem+json': { schema: ref('Problem') } } };
}

/** Errors of the signed review links: pages for browsers, problems for JSON clients. Links are not rate limited
 * (they carry no client identity) and a GET never decides, so only a POST meets a too-large form. */
function linkErrors(...extra: number[]): Obj {
  const page = (description: string): Obj => ({
    description,
    content: {
      'text/html': { schema: { type: 'string' } },
      'application/problem+json': { schema: ref('Problem') },
    },
  });
  const out: Obj = {
    '400': page('The link is malformed or tampered with (or the form is invalid); nothing was decided'),
    '404': page('The job no longer exists'),
    '409': page('The review was already decided, or the job no longer awaits it; nothing was decided'),
    '410': page('The link has expired; nothing was decided'),
  };
  if (extra.includes(413)) out['413'] = page('The form is too large; nothing was decided');
  out['503'] = response('ServiceUnavailable');
  out.default = page('Something went wrong; nothing was decided');
  return out;
}

function schemas(toolNames: string[], pipelineNames: string[]): Obj {
  const isoTime = { type: 'string', format: 'date-time' };
  const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
  const jsonSchema = { type: 'object', description: 'A JSON Schema', additionalProperties: true };
  return {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details',
      required: ['type', 'title', 'status'],
      properties: {
        type: { type: 'string', description: '`about:blank`: the status says it all' },
        title: { type: 'string' },
        status: { type: 'integer', minimum: 400, maximum: 599 },
        detail: { type: 'string', description: 'What went wrong, for a human' },
        instance: { type: 'string', description: 'urn:request:<request id> (also the X-Request-Id header)' },
        errors: {
          type: 'array',
          description: 'For validation problems: one entry per offending field',
          items: {
            type: 'object',
            required: ['field', 'message'],
            properties: {
              field: { type: 'string', description: 'JSON pointer into the request body, e.g. /input/y' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
    NotifyTarget: {
      type: 'object',
      additionalProperties: false,
      properties: {
        email: { type: 'string', format: 'email' },
        webhook: { type: 'string', format: 'uri', description: 'http(s) URL; bodies are signed with HMAC-SHA256' },
      },
    },
    Duration: {
      description: 'Milliseconds, or a string such as 30s, 10m, 2h, 30d',
      oneOf: [{ type: 'number', minimum: 0 }, { type: 'string' }],
    },
    ReviewSpec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        timeout: ref('Duration'),
        default: { type: 'string', enum: ['approve', 'reject'], description: 'Taken when the timeout expires' },
        message: { type: 'string', maxLength: 4000 },
        notify: ref('NotifyTarget'),
      },
    },
    SubmitRequest: {
      type: 'object',
      description: 'Exactly one of `tool` or `pipeline`. Unknown fields are refused.',
      additionalProperties: false,
      properties: {
        tool: { type: 'string', ...(toolNames.length ? { enum: toolNames } : {}) },
        pipeline: { type: 'string', ...(pipelineNames.length ? { enum: pipelineNames } : {}) },
        input: { type: 'object', description: "Checked against the tool's or pipeline's inputSchema" },
        notBefore: {
          type: 'string',
          description: 'Start no earlier than this: an ISO 8601 time, or a delay such as "2h"',
          examples: ['2h', '2030-01-01T00:00:00Z'],
        },
        notify: { ...ref('NotifyTarget'), description: 'Told when the job finishes (and when it awaits review)' },
        labels: {
          type: 'object',
          maxProperties: 20,
          propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' },
          additionalProperties: { type: 'string', maxLength: 200 },
        },
        idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
        review: { ...ref('ReviewSpec'), description: 'A review gate after a tool job (tool jobs only)' },
      },
      oneOf: [
        { required: ['tool'], not: { required: ['pipeline'] } },
        { required: ['pipeline'], not: { required: ['tool'] } },
      ],
      examples: [{ tool: toolNames[0] ?? 'slow_div', input: { x: 8, y: 2 } }],
    },
    ReviewDecision: {
      type: 'object',
      required: ['decision'],
      additionalProperties: false,
      properties: {
        decision: { type: 'string', enum: ['approve', 'reject'] },
        comment: { type: 'string', maxLength: 4000 },
        reviewer: { type: 'string', minLength: 1, maxLength: 200, description: 'Default: the client id' },
        stepId: { type: 'string', description: 'Decide only if this is the review step awaited' },
      },
    },
    RetryRequest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        from: {
          type: 'string',
          enum: ['start', 'failed'],
          description: '`failed`: redrive a pipeline, reusing the steps that succeeded (default: start over)',
        },
      },
    },
    ReviewLinkPage: {
      type: 'object',
      description: 'What a signed review link would decide (nothing is decided yet)',
      required: ['jobId', 'stepId', 'decision'],
      properties: {
        jobId: { type: 'string' },
        kind: { type: 'string', enum: ['tool', 'pipeline'] },
        name: { type: 'string' },
        state: ref('JobState'),
        stepId: { type: 'string' },
        decision: { type: 'string', enum: ['approve', 'reject'] },
        message: { type: 'string', description: 'Shown to the reviewer' },
        linkExpiresAt: isoTime,
        result: { description: "The job's result value so far" },
      },
    },
    ReviewLinkForm: {
      type: 'object',
      properties: {
        comment: { type: 'string', maxLength: 4000 },
        reviewer: { type: 'string', maxLength: 200, description: "The reviewer's name" },
      },
    },
    ReviewLinkDecision: {
      type: 'object',
      description: 'The decision that was recorded',
      required: ['jobId', 'stepId', 'decision', 'state'],
      properties: {
        jobId: { type: 'string' },
        stepId: { type: 'string' },
        decision: { type: 'string', enum: ['approve', 'reject'] },
        reviewer: { type: 'string' },
        comment: { type: 'string' },
        state: ref('JobState'),
      },
    },
    JobState: {
      type: 'string',
      enum: ['queued', 'running', 'awaiting_review', 'succeeded', 'failed', 'canceled'],
    },
    JobError: {
      type: 'object',
      required: ['message'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        step: { type: 'string' },
        exitCode: { type: 'integer' },
        stderrTail: { type: 'string' },
      },
    },
    StepResult: {
      type: 'object',
      properties: {
        exitCode: { type: 'integer' },
        status: { type: 'integer', description: 'HTTP status, for http tools' },
        value: { description: 'The extracted result value' },
        stdoutTail: { type: 'string' },
        stdoutFile: { type: 'string' },
        stderrFile: { type: 'string' },
        stdoutBytes: { type: 'integer' },
        artifacts: { type: 'array', items: { type: 'string' } },
        durationMs: { type: 'number' },
        items: {
          type: 'object',
          properties: {
            total: { type: 'integer' },
            succeeded: { type: 'integer' },
            failed: { type: 'integer' },
            failures: {
              type: 'array',
              items: {
                type: 'object',
                properties: { index: { type: 'integer' }, message: { type: 'string' }, exitCode: { type: 'integer' } },
              },
            },
          },
        },
      },
    },
    StepStatus: {
      type: 'object',
      required: ['id', 'kind', 'state'],
      properties: {
        id: { type: 'string' },
        kind: { type: 'string', enum: ['tool', 'review', 'forEach'] },
        tool: { type: 'string' },
        state: {
          type: 'string',
          enum: ['pending', 'queued', 'running', 'awaiting_review', 'succeeded', 'failed', 'canceled', 'skipped'],
        },
        attempt: { type: 'integer' },
        progress: { type: 'number', minimum: 0, maximum: 100 },
        message: { type: 'string' },
        queuedReason: { type: 'string' },
        startedAt: isoTime,
        finishedAt: isoTime,
        result: ref('StepResult'),
        error: ref('JobError'),
        reused: { type: 'boolean', description: 'Taken from an earlier run (redrive)' },
        items: {
          type: 'object',
          properties: {
            total: { type: 'integer' },
            started: { type: 'integer' },
            succeeded: { type: 'integer' },
            failed: { type: 'integer' },
          },
        },
      },
    },
    ReviewRequest: {
      type: 'object',
      required: ['stepId', 'requestedAt'],
      properties: {
        stepId: { type: 'string' },
        requestedAt: isoTime,
        expiresAt: isoTime,
        message: { type: 'string' },
        default: { type: 'string', enum: ['approve', 'reject'] },
      },
    },
    ReviewRecord: {
      type: 'object',
      required: ['stepId', 'decision', 'decidedAt', 'via'],
      properties: {
        stepId: { type: 'string' },
        decision: { type: 'string', enum: ['approve', 'reject'] },
        comment: { type: 'string' },
        reviewer: { type: 'string' },
        decidedAt: isoTime,
        via: { type: 'string', enum: ['update', 'signal', 'timeout'] },
      },
    },
    Job: {
      type: 'object',
      required: ['id', 'kind', 'name', 'state', 'links'],
      properties: {
        id: { type: 'string', pattern: JOB_ID_PATTERN.source },
        kind: { type: 'string', enum: ['tool', 'pipeline'] },
        name: { type: 'string', description: 'Tool or pipeline name' },
        clientId: { type: 'string' },
        labels: stringMap,
        state: ref('JobState'),
        progress: { type: 'number', minimum: 0, maximum: 100 },
        message: { type: 'string' },
        queuedReason: { type: 'string', description: 'Why a queued job has not started (notBefore, a resource…)' },
        steps: { type: 'array', items: ref('StepStatus') },
        review: ref('ReviewRequest'),
        reviews: { type: 'array', items: ref('ReviewRecord') },
        createdAt: isoTime,
        notBefore: isoTime,
        startedAt: isoTime,
        finishedAt: isoTime,
        result: ref('StepResult'),
        error: ref('JobError'),
        retryOf: { type: 'string', description: 'The job this one retries' },
        version: { type: 'integer', description: 'Grows with every change; the SSE event id' },
        links: {
          type: 'object',
          description: 'Relative URLs of what can be done with the job',
          properties: Object.fromEntries(
            ['self', 'events', 'cancel', 'review', 'retry', 'stdout', 'stderr', 'artifacts'].map((k) => [
              k,
              { type: 'string' },
            ]),
          ),
          additionalProperties: { type: 'string' },
        },
      },
    },
    JobSummary: {
      type: 'object',
      description: 'A job as the list shows it (from search attributes; GET the job for the rest)',
      required: ['id', 'kind', 'name', 'state', 'labels', 'links'],
      properties: {
        id: { type: 'string', pattern: JOB_ID_PATTERN.source },
        kind: { type: 'string', enum: ['tool', 'pipeline'] },
        name: { type: 'string' },
        state: ref('JobState'),
        labels: stringMap,
        createdAt: isoTime,
        finishedAt: isoTime,
        links: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    JobList: {
      type: 'object',
      required: ['items'],
      properties: {
        items: { type: 'array', items: ref('JobSummary') },
        nextPageToken: { type: 'string', description: 'Absent on the last page' },
      },
    },
    Tool: {
      type: 'object',
      required: ['name', 'kind', 'inputSchema', 'resources'],
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        kind: { type: 'string', enum: ['command', 'http'] },
        inputSchema: jsonSchema,
        resources: {
          type: 'object',
          description: 'Resources held while it runs: name → units',
          additionalProperties: { type: 'integer' },
        },
        review: { type: 'object', description: 'The review gate after the tool runs', properties: reviewShown() },
      },
    },
    Pipeline: {
      type: 'object',
      required: ['name', 'inputSchema', 'steps'],
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        inputSchema: jsonSchema,
        steps: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'after'],
            properties: {
              id: { type: 'string' },
              tool: { type: 'string' },
              review: { type: 'object', properties: reviewShown() },
              after: { type: 'array', items: { type: 'string' }, description: 'Steps that must succeed first' },
              forEach: {
                type: 'object',
                description: 'The step runs once per item',
                properties: {
                  input: { type: 'string' },
                  step: { type: 'string' },
                  split: { type: 'string', enum: ['lines', 'fasta', 'json'] },
                  concurrency: { type: 'integer' },
                  tolerate: {
                    type: 'object',
                    properties: { failures: { type: 'integer' }, percent: { type: 'number' } },
                  },
                  collect: { type: 'string', enum: ['json', 'concat'] },
                },
              },
            },
          },
        },
      },
    },
    Artifact: {
      type: 'object',
      required: ['name', 'step', 'size', 'modified', 'href'],
      properties: {
        name: { type: 'string', description: 'Relative path, e.g. `run/stdout.log` or `align/out.aln`' },
        step: { type: 'string' },
        size: { type: 'integer', description: 'Bytes' },
        modified: isoTime,
        href: { type: 'string', description: 'Where to download it' },
      },
    },
    ArtifactList: list('Artifact'),
  };
}

function reviewShown(): Obj {
  return {
    timeout: { $ref: '#/components/schemas/Duration' },
    default: { type: 'string', enum: ['approve', 'reject'] },
    message: { type: 'string' },
  };
}
