// GET /v1/jobs/:id/events against a real worker: the stream of status events, its end after the final state,
// resumption with Last-Event-ID, and the 404 for someone else's job.
import { describe, expect, it, vi } from 'vitest';
import { useApiContext } from '../helpers/api';

const ctx = useApiContext();

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comments: string[];
}

function parseBlock(block: string): SseEvent {
  const e: SseEvent = { comments: [] };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      e.comments.push(line.slice(1).trim());
      continue;
    }
    const at = line.indexOf(':');
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (field === 'data') e.data = e.data === undefined ? value : `${e.data}\n${value}`;
    else if (field === 'id' || field === 'event' || field === 'retry') e[field] = value;
  }
  return e;
}

/** Reads the stream's blocks until it ends or `stop` says so (then the connection is dropped). */
async function readEvents(
  jobId: string,
  opts: { headers?: Record<string, string>; query?: string; stop?: (e: SseEvent) => boolean } = {},
): Promise<{ events: SseEvent[]; ended: boolean; res: Response }> {
  const abort = new AbortController();
  const res = await fetch(`${ctx.baseUrl}/v1/jobs/${jobId}/events${opts.query ?? ''}`, {
    headers: { ...ctx.auth('alice'), ...opts.headers },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { events, ended: true, res };
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const e = parseBlock(buf.slice(0, i));
      buf = buf.slice(i + 2);
      events.push(e);
      if (opts.stop?.(e)) {
        abort.abort();
        await reader.cancel().catch(() => undefined);
        return { events, ended: false, res };
      }
    }
  }
}

const statusEvents = (events: SseEvent[]) => events.filter((e) => e.event === 'status');
const data = (e: SseEvent) => JSON.parse(e.data!) as Record<string, any>;

describe('GET /v1/jobs/:id/events', () => {
  it('streams every change of a running job, with growing ids, then `end`', async () => {
    const jobId = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 2, seconds: 2 } });
    const { events, ended, res } = await readEvents(jobId);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(ended).toBe(true);
    expect(events[0].retry).toBe('2000');

    const status = statusEvents(events);
    const ids = status.map((e) => Number(e.id));
    expect(ids.every((id, i) => Number.isInteger(id) && (i === 0 || id > ids[i - 1]))).toBe(true);
    const states = status.map((e) => data(e).state);
    expect(states).toContain('running');
    // Progress arrives as it is reported (about 10 steps over 2 s, throttled to 200 ms by the test worker).
    const progress = status.map((e) => data(e).progress).filter((p) => typeof p === 'number' && p > 0 && p < 1);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const last = data(status.at(-1)!);
    expect(last).toMatchObject({ id: jobId, state: 'succeeded', result: { value: '4' } });
    expect(last.links.self).toBe(`/v1/jobs/${jobId}`);
    expect(last.jobId).toBeUndefined();
    // `end` is the last event and follows the final status.
    expect(events.at(-1)).toMatchObject({ event: 'end' });
    expect(JSON.parse(events.at(-1)!.data!)).toEqual({ id: jobId, state: 'succeeded' });
    expect(events.findIndex((e) => e.event === 'end')).toBe(events.length - 1);
  });

  it('resumes after Last-Event-ID with only newer events', async () => {
    const jobId = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 9, y: 3, seconds: 2 } });
    const first = await readEvents(jobId, {
      stop: (e) => e.event === 'status' && data(e).state === 'running' && data(e).progress > 0,
    });
    expect(first.ended).toBe(false);
    const seen = statusEvents(first.events).at(-1)!;
    const seenId = Number(seen.id);

    const second = await readEvents(jobId, { headers: { 'Last-Event-ID': String(seenId) } });
    expect(second.ended).toBe(true);
    const resumed = statusEvents(second.events);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((e) => Number(e.id) > seenId)).toBe(true);
    expect(resumed.some((e) => e.data === seen.data)).toBe(false);
    expect(data(resumed.at(-1)!)).toMatchObject({ state: 'succeeded', result: { value: '3' } });
    expect(second.events.at(-1)!.event).toBe('end');

    // With the final id, a finished job has nothing new: only `end`.
    const finalId = resumed.at(-1)!.id!;
    const third = await readEvents(jobId, { headers: { 'Last-Event-ID': finalId } });
    expect(third.ended).toBe(true);
    expect(statusEvents(third.events)).toEqual([]);
    expect(third.events.map((e) => e.event ?? 'retry')).toEqual(['retry', 'end']);

    // The query parameter works like the header (for clients that cannot set headers).
    const viaQuery = await readEvents(jobId, { query: `?lastEventId=${finalId}` });
    expect(statusEvents(viaQuery.events)).toEqual([]);

    // An older id gets the current snapshot, once.
    const older = await readEvents(jobId, { headers: { 'Last-Event-ID': String(seenId) } });
    expect(statusEvents(older.events).map((e) => e.id)).toEqual([finalId]);
  });

  it('a finished job streams its final status and ends; failures too', async () => {
    const jobId = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 0 } });
    await ctx.jobs.finished(jobId);
    const { events, ended } = await readEvents(jobId);
    expect(ended).toBe(true);
    const status = statusEvents(events);
    expect(status).toHaveLength(1);
    expect(data(status[0])).toMatchObject({ state: 'failed', error: { message: expect.stringContaining('division') } });
    expect(events.at(-1)!.event).toBe('end');
  });

  it('answers 404 (problem+json, no stream) for another client’s or an unknown job; 400 for a bad id', async () => {
    const jobId = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 1, y: 1 } });
    const res = await fetch(`${ctx.baseUrl}/v1/jobs/${jobId}/events`, { headers: ctx.auth('bob') });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 404 });
    const unknown = await fetch(`${ctx.baseUrl}/v1/jobs/nope/events`, { headers: ctx.auth('alice') });
    expect(unknown.status).toBe(404);
    const admin = await readEvents(jobId, { headers: ctx.auth('admin') });
    expect(admin.ended).toBe(true);
    const noAuth = await fetch(`${ctx.baseUrl}/v1/jobs/${jobId}/events`);
    expect(noAuth.status).toBe(401);
    const bad = await fetch(`${ctx.baseUrl}/v1/jobs/${jobId}/events`, {
      headers: { ...ctx.auth('alice'), 'Last-Event-ID': 'yesterday' },
    });
    expect(bad.status).toBe(400);
  });

  it('stops polling when the client goes away, and keeps serving others', async () => {
    const jobId = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 4, y: 2, seconds: 2 } });
    const service = ctx.jobs.client.workflowService;
    const query = vi.spyOn(service, 'queryWorkflow');
    try {
      const dropped = await readEvents(jobId, { stop: (e) => e.event === 'status' });
      expect(dropped.ended).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      const before = query.mock.calls.length;
      expect(before).toBeGreaterThan(0); // the stream's own queries went through the spy
      await new Promise((r) => setTimeout(r, 600)); // six poll intervals of the test app
      expect(query.mock.calls.length).toBe(before);
    } finally {
      query.mockRestore();
    }
    const full = await readEvents(jobId);
    expect(full.ended).toBe(true);
    expect(data(statusEvents(full.events).at(-1)!).state).toBe('succeeded');
  });
});
