// A job's files: its steps' logs (optionally followed as they grow) and artifacts. Everything served lives under
// <dataDir>/jobs/<jobId>/steps/; a name from the request is resolved component by component and through realpath,
// so neither `..`, encoded slashes nor a symlink a tool left behind can reach anything outside that directory.
import { Router, type Response } from 'express';
import type { Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { resolveJobPath, stepPath } from '../../activities/job-files';
import { isFinal } from '../../workflows/states';
import type { JobStatus, StepStatus } from '../../workflows/types';
import type { ApiDeps } from '../deps';
import { findJob, jobStatus } from '../job-access';
import { HttpProblem, sendProblem } from '../problem';

const LOG_CONTENT_TYPE = 'text/plain; charset=utf-8';
const READ_CHUNK = 64 * 1024;
/** Served inline; any other type is a download, so a tool's HTML or SVG output never runs in our origin. */
const INLINE_TYPES = new Set(['text/plain', 'application/json', 'text/csv', 'text/tab-separated-values']);
const DONE_STEP_STATES = new Set<StepStatus['state']>(['succeeded', 'failed', 'canceled', 'skipped']);

export interface ArtifactItem {
  /** Relative to the job's steps directory: `<step>/stdout.log`, `<step>/<file>`. */
  name: string;
  step: string;
  size: number;
  /** ISO time of the last modification. */
  modified: string;
  href: string;
}

export function filesRoutes(deps: ApiDeps): Router {
  const router = Router();
  const pollMs = deps.options?.pollMs ?? 500;
  const dataDir = deps.config.dataDir;
  const stepsRoot = (jobId: string) => resolveJobPath(dataDir, `${jobId}/steps`);
  const stepDir = (jobId: string, stepId: string) => resolveJobPath(dataDir, stepPath(jobId, stepId));

  // GET /jobs/:id/logs?stream=stdout|stderr[&step=ID][&item=N][&follow=1]
  router.get('/jobs/:id/logs', async (req, res) => {
    const stream = single(req.query.stream, 'stream') ?? 'stdout';
    if (stream !== 'stdout' && stream !== 'stderr') {
      throw new HttpProblem(400, 'Bad Request', 'stream must be "stdout" or "stderr"');
    }
    const stepParam = single(req.query.step, 'step');
    const itemParam = single(req.query.item, 'item');
    if (itemParam !== undefined && !/^\d{1,9}$/.test(itemParam)) {
      throw new HttpProblem(400, 'Bad Request', 'item must be a non-negative integer');
    }
    const item = itemParam === undefined ? undefined : Number(itemParam);
    const followParam = single(req.query.follow, 'follow');
    if (followParam !== undefined && !['0', '1', 'true', 'false'].includes(followParam)) {
      throw new HttpProblem(400, 'Bad Request', 'follow must be 1 or 0');
    }
    const follow = followParam === '1' || followParam === 'true';

    const ref = await findJob(deps.client, req.principal!, req.params.id);
    let status = await jobStatus(ref);
    let step: StepStatus | undefined;
    if (stepParam !== undefined) {
      step = status.steps.find((s) => s.id === stepParam);
      if (!step) throw new HttpProblem(404, 'Not Found', `job ${ref.jobId} has no step ${stepParam.slice(0, 100)}`);
    } else {
      step = await defaultLogStep(status, (s) => fileStat(path.join(stepDir(ref.jobId, s.id), `${stream}.log`)));
      if (!step) throw new HttpProblem(404, 'Not Found', `job ${ref.jobId} has no step with logs`);
    }
    // Logs get the same realpath check as artifacts: a tool could replace its log with a symlink.
    const segments = [step.id, ...(item === undefined ? [] : ['items', String(item)]), `${stream}.log`];
    const locate = async () => {
      const root = await realDir(stepsRoot(ref.jobId));
      const found = root && (await resolveInside(root, segments));
      return root && found ? { root, real: found.real } : undefined;
    };
    const where = `step ${step.id}${item === undefined ? '' : ` item ${item}`}`;

    if (!follow) {
      const found = await locate();
      if (!found) throw new HttpProblem(404, 'Not Found', `no ${stream} log for ${where} (yet)`);
      res.setHeader('Content-Type', LOG_CONTENT_TYPE);
      res.setHeader('Cache-Control', 'private, no-cache');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      return serveFile(res, found.root, path.relative(found.root, found.real), `no ${stream} log for ${where}`);
    }

    // Following: the job may not have started writing yet, so a missing file is waited for, not a 404.
    const stepId = step.id;
    const finished = (s: JobStatus) => {
      const st = s.steps.find((x) => x.id === stepId);
      return isFinal(s.state) || (st !== undefined && DONE_STEP_STATES.has(st.state));
    };
    res.status(200);
    res.setHeader('Content-Type', LOG_CONTENT_TYPE);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.flushHeaders();
    const stream$ = new LiveStream(res, pollMs);
    let offset = 0;
    let done = finished(status);
    try {
      while (stream$.open) {
        const before = offset;
        const found = await locate();
        if (found) offset = await copyNew(found.real, offset, stream$);
        // Ends once the step was seen finished and the file has not grown since: its writer has exited.
        if (done && offset === before) break;
        await stream$.sleep();
        if (!done && stream$.open) {
          try {
            status = await jobStatus(ref);
            done = finished(status);
          } catch (err) {
            req.log?.warn({ err: (err as Error).message }, 'status query failed while following a log');
          }
        }
      }
    } finally {
      stream$.close();
    }
  });

  // GET /jobs/:id/artifacts: the logs of every step that has them and the files the steps kept (their results'
  // `artifacts`). Fan-out items' own logs are not listed (there may be thousands) but can be fetched by name,
  // e.g. `<step>/items/<n>/stderr.log`.
  router.get('/jobs/:id/artifacts', async (req, res) => {
    const ref = await findJob(deps.client, req.principal!, req.params.id);
    const status = await jobStatus(ref);
    const root = await realDir(stepsRoot(ref.jobId));
    const items: ArtifactItem[] = [];
    const seen = new Set<string>();
    const prefix = `${ref.jobId}/steps/`;
    for (const step of status.steps) {
      if (step.kind === 'review') continue;
      const r = step.result;
      const names = [`${step.id}/stdout.log`, `${step.id}/stderr.log`];
      for (const p of [r?.stdoutFile, r?.stderrFile, ...(r?.artifacts ?? [])]) {
        // JobPaths come from the workflow; anything not under this job's steps directory is not ours to serve.
        if (p?.startsWith(prefix)) names.push(path.posix.normalize(p.slice(prefix.length)));
      }
      for (const name of names) {
        if (seen.has(name) || !root) continue;
        seen.add(name);
        const found = await resolveInside(root, name.split('/'));
        if (!found) continue;
        items.push({
          name,
          step: step.id,
          size: found.stat.size,
          modified: found.stat.mtime.toISOString(),
          href: `/v1/jobs/${ref.jobId}/artifacts/${name.split('/').map(encodeURIComponent).join('/')}`,
        });
      }
    }
    res.setHeader('Cache-Control', 'private, no-cache');
    res.json({ items });
  });

  // GET /jobs/:id/artifacts/*name: one file under the job's steps directory, with Range support.
  router.get('/jobs/:id/artifacts/*name', async (req, res) => {
    const ref = await findJob(deps.client, req.principal!, req.params.id);
    const raw = req.params.name as unknown;
    const segments = Array.isArray(raw) ? raw.map(String) : String(raw).split('/');
    const name = segments.join('/');
    if (!segments.length || segments.some((s) => !s || s === '.' || s === '..' || /[/\\\0]/.test(s))) {
      throw new HttpProblem(400, 'Bad Request', 'an artifact name is a relative path without "." or ".." parts');
    }
    const unknown = `job ${ref.jobId} has no artifact ${name.slice(0, 200)}`;
    const root = await realDir(stepsRoot(ref.jobId));
    const found = root && (await resolveInside(root, segments));
    if (!root || !found) throw new HttpProblem(404, 'Not Found', unknown);

    // By extension (mime-types, with a charset for text); unknown extensions are application/octet-stream.
    res.type(path.extname(found.real) || 'application/octet-stream');
    const type = String(res.getHeader('Content-Type'));
    if (!INLINE_TYPES.has(type.split(';')[0])) res.attachment(path.basename(found.real));
    res.setHeader('Cache-Control', 'private, no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    return serveFile(res, root, path.relative(root, found.real), unknown);
  });

  return router;
}

/**
 * Which step's log `GET /logs` shows without `?step`: a tool job's only tool step (`run`); for a pipeline, the
 * last step in pipeline order (review steps aside) whose log file exists — the one running now, or the last that
 * ran — and before anything ran, the first step, so following a fresh pipeline waits for its first output.
 */
async function defaultLogStep(
  status: JobStatus,
  hasLog: (s: StepStatus) => Promise<Stats | undefined>,
): Promise<StepStatus | undefined> {
  const candidates = status.steps.filter((s) => s.kind !== 'review');
  if (status.kind === 'tool') return candidates[0];
  for (const s of [...candidates].reverse()) if (await hasLog(s)) return s;
  return candidates[0];
}

/** A query parameter given at most once. */
function single(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new HttpProblem(400, 'Bad Request', `${name} must be given once`);
  return v;
}

async function fileStat(abs: string): Promise<Stats | undefined> {
  const st = await fsp.stat(abs).catch(() => undefined);
  return st?.isFile() ? st : undefined;
}

async function realDir(abs: string): Promise<string | undefined> {
  return fsp.realpath(abs).catch(() => undefined);
}

/** A regular file at `segments` under `root` (already a realpath), provided its realpath is still under root. */
async function resolveInside(root: string, segments: string[]): Promise<{ real: string; stat: Stats } | undefined> {
  if (segments.some((s) => !s || s === '.' || s === '..' || /[/\\\0]/.test(s))) return undefined;
  const real = await fsp.realpath(path.join(root, ...segments)).catch(() => undefined);
  if (!real || !real.startsWith(root + path.sep)) return undefined;
  const stat = await fileStat(real);
  return stat ? { real, stat } : undefined;
}

/** res.sendFile (Range, If-Range, 206/416, conditional GET) with errors answered as problems. */
function serveFile(res: Response, root: string, rel: string, notFoundDetail: string): Promise<void> {
  return new Promise((resolve) => {
    res.sendFile(rel, { root, dotfiles: 'deny', cacheControl: false, lastModified: true }, (err) => {
      resolve();
      if (!err) return;
      const e = err as NodeJS.ErrnoException & { status?: number; statusCode?: number };
      if (res.headersSent) {
        // Mid-transfer (client gone, file truncated): nothing sensible can be said any more.
        res.destroy();
        return;
      }
      res.removeHeader('Content-Disposition');
      res.removeHeader('Content-Security-Policy');
      res.removeHeader('Last-Modified');
      res.removeHeader('Accept-Ranges');
      const status = e.status ?? e.statusCode;
      if (status === 416) {
        const range = res.getHeader('Content-Range');
        sendProblem(res, 416, `the requested range is not within the file (${String(range ?? '')})`, {
          headers: range ? { 'Content-Range': String(range) } : {},
        });
      } else {
        // Gone since we looked, a directory, or a dotfile (403 from send): all the same unknown name.
        sendProblem(res, 404, notFoundDetail);
      }
    });
  });
}

/** A streaming response that notices the client going away and waits between polls (woken early on close). */
export class LiveStream {
  open = true;
  private wake?: () => void;

  constructor(
    private readonly res: Response,
    private readonly pollMs: number,
  ) {
    res.on('close', () => {
      this.open = false;
      this.wake?.();
    });
  }

  sleep(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      this.wake = done;
    });
  }

  /** Writes, waiting for the socket to drain when its buffer is full. */
  async write(chunk: Buffer | string): Promise<void> {
    if (!this.open || this.res.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  close(): void {
    if (this.open) this.res.end();
    this.open = false;
  }
}

/** Copies what was appended to `file` since `offset`; returns the new offset. A file that shrank was rewritten
 * (a new attempt truncates its logs), so it is followed again from the start. */
async function copyNew(file: string, offset: number, out: LiveStream): Promise<number> {
  const st = await fileStat(file);
  if (!st) return offset;
  if (st.size < offset) offset = 0;
  if (st.size === offset) return offset;
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(READ_CHUNK);
    while (offset < st.size && out.open) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, st.size - offset), offset);
      if (!bytesRead) break;
      offset += bytesRead;
      await out.write(Buffer.from(buf.subarray(0, bytesRead)));
    }
  } finally {
    await fh.close();
  }
  return offset;
}
