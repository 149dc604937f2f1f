// The httpCall activity: runs a tool of kind 'http'. The response body is streamed to the step's working directory
// (response.body, and stdout.log so downstream steps can pipe it like a command's stdout); the history gets only a
// small StepResult. Retries and their backoff come from the workflow's activity retry policy.
import { ApplicationFailure, Context } from '@temporalio/activity';
import fs from 'node:fs';
import path from 'node:path';
import type { HttpCallRequest, StepResult } from '../workflows/types';
import { expandString, TemplateError } from './argv';
import { checkToolInput } from './tool-input';
import type { ActivityDeps } from './deps';
import { resolveJobPath, stepPath } from './job-files';

const MAX_BODY_BYTES = 1024 ** 3;
const MAX_JSON_VALUE_BYTES = 64 * 1024;
const MAX_TEXT_VALUE_BYTES = 4 * 1024;
const TAIL_BYTES = 4 * 1024;
const ERROR_TAIL_BYTES = 2 * 1024;
const HEARTBEAT_EVERY_MS = 5_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createHttpCall(deps: ActivityDeps, opts: { maxBodyBytes?: number } = {}) {
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  return async function httpCall(req: HttpCallRequest): Promise<StepResult> {
    const { tool, jobId } = req;
    const input = checkToolInput(tool, req.input);
    const spec = tool.http;
    if (tool.kind !== 'http' || !spec) {
      throw ApplicationFailure.nonRetryable(`${tool.name}: not an http tool`, 'BadInput');
    }
    const url = parseUrl(
      tool.name,
      fillTemplate(spec.url, input, (v) => encodeURIComponent(v)),
    );
    const method = (spec.method ?? 'GET').toUpperCase();
    const headers = new Headers();
    for (const [name, template] of Object.entries(spec.headers ?? {})) {
      const value = fillTemplate(template, input);
      // fetch would refuse these with a TypeError that looks like a network error (and would be retried).
      if (/[\r\n\0]/.test(value)) {
        throw ApplicationFailure.nonRetryable(`${tool.name}: header ${name} holds a line break`, 'BadInput');
      }
      headers.set(name, value);
    }
    let body: string | undefined;
    if (spec.body !== undefined && (method === 'GET' || method === 'HEAD')) {
      // fetch would refuse it with a TypeError, retried like a network error.
      throw ApplicationFailure.nonRetryable(`${tool.name}: a ${method} request cannot have a body`, 'BadInput');
    } else if (spec.body !== undefined) {
      body = fillTemplate(spec.body, input);
    } else if (method !== 'GET' && method !== 'HEAD') {
      body = JSON.stringify(input);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    if (!headers.has('user-agent')) headers.set('user-agent', 'longhaul');
    headers.set('X-Via-JobQueue', 'yes');
    headers.set('X-Longhaul-Job', jobId);

    let rel: string;
    try {
      rel = stepPath(jobId, req.stepId, req.item);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`${tool.name}: ${(err as Error).message}`, 'BadInput');
    }
    const dir = resolveJobPath(deps.dataDir, rel);
    await fs.promises.mkdir(dir, { recursive: true });
    const bodyFile = path.join(dir, 'response.body');
    const stdoutFile = path.join(dir, 'stdout.log');
    const resultFile = path.join(dir, 'result.json');
    // Unlink rather than truncate: stdout.log may be a hard link to an earlier attempt's response.body.
    await Promise.all([bodyFile, stdoutFile, resultFile].map((f) => fs.promises.rm(f, { force: true })));

    const ctx = Context.current();
    const timeoutMs = ctx.info.startToCloseTimeoutMs;
    const signals = [ctx.cancellationSignal];
    // Node timers cannot wait longer than 2^31-1 ms (they would fire at once); past that the server's own
    // start-to-close timeout is enough.
    if (timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS) signals.push(AbortSignal.timeout(timeoutMs));
    const signal = AbortSignal.any(signals);
    let received = 0;
    // Cancellation reaches an activity only through a heartbeat's response, so heartbeat throughout the wait.
    const hb = ctx.info.heartbeatTimeoutMs;
    const every = hb ? Math.min(HEARTBEAT_EVERY_MS, Math.max(100, hb / 3)) : HEARTBEAT_EVERY_MS;
    const beat = setInterval(() => ctx.heartbeat({ bytes: received }), every);
    const started = Date.now();
    let status: number;
    let contentType: string;
    const head = new ChunkKeeper(MAX_JSON_VALUE_BYTES + 1, 'head');
    const tail = new ChunkKeeper(TAIL_BYTES, 'tail');
    try {
      const res = await fetch(url, { method, headers, body, signal });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      const out = await fs.promises.open(bodyFile, 'w');
      try {
        if (res.body) {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            received += chunk.byteLength;
            if (received > maxBodyBytes) {
              await res.body.cancel().catch(() => undefined);
              throw ApplicationFailure.nonRetryable(
                `${tool.name}: response body larger than ${maxBodyBytes} bytes`,
                'OutputTooLarge',
              );
            }
            await out.write(chunk);
            head.add(chunk);
            tail.add(chunk);
          }
        }
      } finally {
        await out.close();
      }
    } catch (err) {
      await Promise.all([bodyFile, stdoutFile].map((f) => fs.promises.rm(f, { force: true })));
      if (err instanceof ApplicationFailure) throw err;
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (signal.aborted) {
        throw ApplicationFailure.retryable(`${tool.name}: no complete response within ${timeoutMs} ms`, 'Timeout');
      }
      throw ApplicationFailure.retryable(`${tool.name}: ${describeNetworkError(err)}`, 'NetworkError');
    } finally {
      clearInterval(beat);
    }
    const durationMs = Date.now() - started;
    await linkOrCopy(bodyFile, stdoutFile);

    const ok = spec.successStatus?.length ? spec.successStatus.includes(status) : status >= 200 && status <= 299;
    if (!ok) {
      const bodyTail = utf8Tail(tail.bytes(), ERROR_TAIL_BYTES);
      const retryable = status === 408 || status === 429 || status >= 500;
      throw ApplicationFailure.create({
        message: `${tool.name}: HTTP ${status}`,
        type: 'HttpStatus',
        nonRetryable: !retryable,
        details: [{ status, bodyTail }],
      });
    }

    const result: StepResult = {
      status,
      stdoutFile: path.posix.join(rel, 'stdout.log'),
      stdoutBytes: received,
      stdoutTail: utf8Tail(tail.bytes(), TAIL_BYTES),
      value: responseValue(contentType, head.bytes(), received),
      durationMs,
    };
    await fs.promises.writeFile(resultFile, JSON.stringify(result, null, 2) + '\n');
    return result;
  };
}

/** Replaces `{field}` / `{a.b.c}` placeholders (as in command templates) with values from `input`; a missing field
 * is a BadInput failure. */
export function fillTemplate(
  template: string,
  input: Record<string, unknown>,
  encode: (value: string) => string = (v) => v,
): string {
  try {
    return expandString(template, input, encode);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    throw ApplicationFailure.nonRetryable(`missing input field: ${err.field}`, 'BadInput', { field: err.field });
  }
}

function parseUrl(tool: string, s: string): URL {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw ApplicationFailure.nonRetryable(`${tool}: not a URL: ${s}`, 'BadInput');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw ApplicationFailure.nonRetryable(`${tool}: only http and https URLs are allowed: ${s}`, 'BadInput');
  }
  return url;
}

function responseValue(contentType: string, head: Buffer, total: number): unknown {
  if (total <= MAX_JSON_VALUE_BYTES && /^application\/([\w.+-]+\+)?json\b/i.test(contentType.trim())) {
    try {
      return JSON.parse(head.toString('utf8'));
    } catch {
      // Not what it claims to be: fall through to text.
    }
  }
  return total <= MAX_TEXT_VALUE_BYTES ? head.toString('utf8') : undefined;
}

/** The last `max` bytes as text, not starting in the middle of a UTF-8 sequence. */
function utf8Tail(buf: Buffer, max: number): string {
  // Only ever cut at the front (the kept tail itself may start mid-sequence), so skipping continuation bytes there
  // is safe.
  let start = Math.max(0, buf.length - max);
  const limit = Math.min(buf.length, start + 3);
  while (start < limit && (buf[start] & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    // The same bytes twice for free; some shared filesystems do not support hard links.
    await fs.promises.link(from, to);
  } catch {
    await fs.promises.copyFile(from, to);
  }
}

/** Keeps the first or the last `max` bytes of a stream. */
class ChunkKeeper {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(
    private readonly max: number,
    private readonly end: 'head' | 'tail',
  ) {}

  add(chunk: Uint8Array): void {
    if (this.end === 'head') {
      if (this.size >= this.max) return;
      const part = Buffer.from(chunk.subarray(0, this.max - this.size));
      this.chunks.push(part);
      this.size += part.length;
      return;
    }
    const buf = Buffer.from(chunk.subarray(Math.max(0, chunk.byteLength - this.max)));
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size - this.chunks[0].length >= this.max) this.size -= this.chunks.shift()!.length;
  }

  bytes(): Buffer {
    const all = Buffer.concat(this.chunks);
    return this.end === 'head' ? all : all.subarray(Math.max(0, all.length - this.max));
  }
}

function describeNetworkError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}
