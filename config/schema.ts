// The shape of longhaul.config.yaml (or .json): tools, pipelines, resources and notification settings.
// Checked with zod so that a typo is reported with its path before anything runs.
import { z } from 'zod';
import { DURATION_PATTERN } from '../workflows/durations';
import { NAME_PATTERN, NAME_RULE } from './names';

const name = z.string().regex(NAME_PATTERN, NAME_RULE);
const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(DURATION_PATTERN, 'a duration such as 30s, 10m, 2h or 30d'),
]);
const decision = z.enum(['approve', 'reject']);

const retry = z
  .object({
    maximumAttempts: z.number().int().min(0).optional(),
    initialInterval: duration.optional(),
    backoffCoefficient: z.number().min(1).optional(),
    maximumInterval: duration.optional(),
    nonRetryableExitCodes: z.array(z.number().int()).optional(),
  })
  .strict();

export const notifyTargetSchema = z
  .object({
    email: z.email().optional(),
    webhook: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();

export const reviewSchema = z
  .object({
    timeout: duration.optional(),
    default: decision.optional(),
    message: z.string().max(4000).optional(),
    notify: notifyTargetSchema.optional(),
  })
  .strict();

const jsonSchema = z.record(z.string(), z.unknown());

const tool = z
  .object({
    description: z.string().optional(),
    command: z.array(z.string()).min(1).optional(),
    shell: z.boolean().optional(),
    env: z.record(z.string(), z.string()).optional(),
    stdin: z.string().optional(),
    input: jsonSchema.optional(),
    timeout: duration.default('1h'),
    heartbeat: duration.default('60s'),
    retry: retry.default({ maximumAttempts: 3 }),
    progress: z
      .object({ pattern: z.string(), stream: z.enum(['stdout', 'stderr', 'both']).optional() })
      .strict()
      .optional(),
    result: z.object({ pattern: z.string().optional(), json: z.boolean().optional() }).strict().optional(),
    outputs: z.array(z.string()).optional(),
    resources: z.record(z.string(), z.number().int().positive()).optional(),
    http: z
      .object({
        url: z.string(),
        method: z.string().optional(),
        headers: z.record(z.string(), z.string()).optional(),
        body: z.string().optional(),
        successStatus: z.array(z.number().int().min(100).max(599)).optional(),
      })
      .strict()
      .optional(),
    review: reviewSchema.optional(),
  })
  .strict()
  .refine((t) => (t.command ? 1 : 0) + (t.http ? 1 : 0) === 1, 'a tool needs exactly one of `command` or `http`');

const stdin = z.union([
  z.object({ step: z.string() }).strict(),
  z.object({ input: z.string() }).strict(),
  z.object({ item: z.literal(true) }).strict(),
  z.object({ text: z.string() }).strict(),
]);

const step = z
  .object({
    id: name,
    tool: z.string().optional(),
    review: reviewSchema.optional(),
    after: z.array(z.string()).optional(),
    input: z.record(z.string(), z.unknown()).optional(),
    stdin: stdin.optional(),
    forEach: z
      .object({
        input: z.string().optional(),
        step: z.string().optional(),
        split: z.enum(['lines', 'fasta', 'json']).optional(),
        concurrency: z.number().int().positive().max(1000).optional(),
        tolerate: z
          .object({ failures: z.number().int().min(0).optional(), percent: z.number().min(0).max(100).optional() })
          .strict()
          .optional(),
        collect: z.enum(['json', 'concat']).optional(),
      })
      .strict()
      .refine((f) => (f.input ? 1 : 0) + (f.step ? 1 : 0) === 1, 'forEach needs exactly one of `input` or `step`')
      .optional(),
    onFailure: z.enum(['fail', 'continue', 'retry']).optional(),
    retries: z.number().int().min(0).max(100).optional(),
  })
  .strict()
  .refine((s) => (s.tool ? 1 : 0) + (s.review ? 1 : 0) === 1, 'a step needs exactly one of `tool` or `review`');

const pipeline = z
  .object({
    description: z.string().optional(),
    input: jsonSchema.optional(),
    steps: z.array(step).min(1),
  })
  .strict();

export const configSchema = z
  .object({
    dataDir: z.string().optional(),
    publicUrl: z.url().optional(),
    secret: z.string().min(16).optional(),
    taskQueue: z.string().optional(),
    namespace: z.string().optional(),
    smtp: z
      .object({
        host: z.string(),
        port: z.number().int().min(1).max(65535).default(25),
        secure: z.boolean().optional(),
        from: z.string(),
        auth: z.object({ user: z.string(), pass: z.string() }).strict().optional(),
      })
      .strict()
      .optional(),
    resources: z.record(name, z.number().int().positive()).default({}),
    /** API clients: tokens are stored as SHA-256 hex (`longhaul token create CLIENT` prints both). */
    clients: z
      .record(
        name,
        z
          .object({
            tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest'),
            admin: z.boolean().optional(),
          })
          .strict(),
      )
      .default({}),
    api: z
      .object({
        /** Requests per minute per client (default 600). */
        rateLimitPerMinute: z.number().int().positive().optional(),
        /** Largest accepted request body (default 1 MiB). */
        maxBodyBytes: z.number().int().positive().optional(),
      })
      .strict()
      .default({}),
    tools: z.record(name, tool),
    pipelines: z.record(name, pipeline).default({}),
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;
export type ToolConfig = ConfigFile['tools'][string];
export type PipelineConfig = ConfigFile['pipelines'][string];
