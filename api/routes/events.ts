// GET /v1/jobs/:id/events: Server-Sent Events of a job's status. The workflow is the only source of truth, so the
// stream polls the `status` query and sends a `status` event whenever the status changed; its `id` is the status
// `version` (which grows with the job's history), so a client that reconnects with Last-Event-ID gets only news.
// After a final state it sends `end` and closes. A closed workflow still answers the query (a worker replays it).
import { WorkflowNotFoundError } from '@temporalio/client';
import { Router } from 'express';
import { isFinal } from '../../workflows/states';
import type { JobStatus } from '../../workflows/types';
import type { ApiDeps } from '../deps';
import { apiJob, findJob, jobStatus } from '../job-access';
import { HttpProblem } from '../problem';
import { LiveStream } from './files';

const HEARTBEAT_MS = 15_000;
/** Reconnection delay suggested to EventSource clients. */
const RETRY_MS = 2000;

export function eventsRoutes(deps: ApiDeps): Router {
  const router = Router();
  const pollMs = deps.options?.pollMs ?? 500;

  router.get('/jobs/:id/events', async (req, res) => {
    const lastEventId = parseLastEventId(req.get('last-event-id') ?? req.query.lastEventId);
    if (lastEventId === null) throw new HttpProblem(400, 'Bad Request', 'Last-Event-ID must be a non-negative integer');
    const ref = await findJob(deps.client, req.principal!, req.params.id);
    // The first query also runs before any streaming, so a job that cannot be queried is a problem, not a stream.
    let status = await jobStatus(ref);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: ${RETRY_MS}\n\n`);

    // The response's 'close' fires when the client goes away (the request's may fire as soon as its empty body
    // was read).
    const live = new LiveStream(res, pollMs);
    const heartbeat = setInterval(() => void live.write(': keepalive\n\n'), HEARTBEAT_MS);

    let lastSent: string | undefined;
    let lastId = lastEventId ?? -1;
    // Resuming: what the client already has (as far as we can tell from its id) is not sent again.
    if (lastEventId !== undefined && (status.version ?? 0) <= lastEventId) lastSent = content(status);

    try {
      while (live.open) {
        const c = content(status);
        if (c !== lastSent) {
          // Ids never go down, even if a replayed query were to report an older version.
          lastId = Math.max(lastId, status.version ?? 0);
          await live.write(`id: ${lastId}\nevent: status\ndata: ${JSON.stringify(apiJob(status))}\n\n`);
          lastSent = c;
        }
        if (isFinal(status.state)) {
          await live.write(`event: end\ndata: ${JSON.stringify({ id: status.jobId, state: status.state })}\n\n`);
          break;
        }
        await live.sleep();
        if (!live.open) break;
        try {
          status = await jobStatus(ref);
        } catch (err) {
          // The workflow is gone (retention): nothing more will come.
          if (err instanceof WorkflowNotFoundError) break;
          // A worker restart or a slow replay: keep the stream and try again.
          req.log?.warn({ err: (err as Error).message }, 'status query failed while streaming events');
        }
      }
    } finally {
      clearInterval(heartbeat);
      live.close();
    }
  });

  return router;
}

/** The status without its version: a new version with the same content is not news. */
function content(status: JobStatus): string {
  const { version: _version, ...rest } = status;
  return JSON.stringify(rest);
}

/** undefined when absent, null when invalid. */
function parseLastEventId(v: unknown): number | undefined | null {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v.trim())) return null;
  return Number(v.trim());
}
