// The job routes over real HTTP against a real worker and longhaul-server: submit, status, list, cancel, review
// and retry, with every error path (problem+json, per-field lists, 404 for others' jobs, never a 5xx for input).
import { randomUUID } from 'node:crypto';
import { CLIENT_KEY } from '../../workflows/search-attributes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOB_ID_PATTERN } from '../../jobs/ids';
import { submitJob } from '../../jobs/submit';
import { eventually } from '../helpers/jobs';
import { TOKENS, useApiContext } from '../helpers/api';

// A high limit: the polling below must not run into the rate limit (tested on its own).
const ctx = useApiContext({ options: { rateLimitPerMinute: 1_000_000 } });

type Who = keyof typeof TOKENS | 'nobody';

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** One request; `body` is sent as JSON unless it is already a string (then as is, with the given type). */
async function call(
  who: Who,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const h: Record<string, string> = { ...(who === 'nobody' ? {} : ctx.auth(who)) };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(`${ctx.baseUrl}${path}`, {
    method,
    headers: { ...h, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

const submit = (who: Who, body: unknown, headers?: Record<string, string>) =>
  call(who, 'POST', '/v1/jobs', body, headers);
const get = (who: Who, id: string) => call(who, 'GET', `/v1/jobs/${id}`);
const list = (who: Who, query: string) => call(who, 'GET', `/v1/jobs?${query}`);

/** Polls GET /v1/jobs/:id until the job's state is one of `states`. */
function until(id: string, ...states: string[]): Promise<any> {
  return eventually(async () => {
    const r = await get('alice', id);
    return states.includes(r.body?.state) ? r.body : undefined;
  }, 40_000);
}

function expectProblem(r: Answer, status: number): void {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ type: 'about:blank', status, title: expect.any(String) });
  expect(JSON.stringify(r.body)).not.toMatch(/\bat .*\.(ts|js):\d+/); // never a stack trace
}

const fields = (r: Answer) => (r.body.errors ?? []).map((e: { field: string }) => e.field);
const seqIds = (n: number) => Array.from({ length: n }, (_, i) => `SEQ${String(i + 1).padStart(3, '0')}`);

describe('POST /v1/jobs and GET /v1/jobs/:id', () => {
  it('submits a tool job: 201 with the job and Location; its status until it finishes', async () => {
    const r = await submit('alice', { tool: 'slow_div', input: { x: 8, y: 2 }, labels: { team: 'a' } });
    expect(r.status).toBe(201);
    const id = r.body.id;
    expect(id).toMatch(JOB_ID_PATTERN);
    expect(r.headers.get('location')).toBe(`/v1/jobs/${id}`);
    expect(r.body).toMatchObject({
      state: 'queued',
      kind: 'tool',
      name: 'slow_div',
      clientId: 'alice',
      labels: { team: 'a' },
      steps: [{ id: 'run', kind: 'tool', tool: 'slow_div', state: 'pending' }],
      reviews: [],
      links: { self: `/v1/jobs/${id}`, events: `/v1/jobs/${id}/events`, cancel: `/v1/jobs/${id}/cancel` },
    });
    expect(Date.parse(r.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    const done = await until(id, 'succeeded', 'failed');
    expect(done).toMatchObject({ id, state: 'succeeded', result: { value: '4' }, progress: 1 });
    expect(done.finishedAt).toEqual(expect.any(String));
    // A finished job still answers.
    const again = await get('alice', id);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id, state: 'succeeded', links: { self: `/v1/jobs/${id}` } });
  });

  it('submits a pipeline job and answers its steps', async () => {
    const r = await submit('alice', { pipeline: 'fetch_align', input: { ids: ['SEQ001', 'SEQ002'] } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ kind: 'pipeline', name: 'fetch_align', state: 'queued' });
    expect(r.body.steps.map((s: any) => [s.id, s.state])).toEqual([
      ['fetch', 'pending'],
      ['align', 'pending'],
    ]);
    expect(await until(r.body.id, 'succeeded', 'failed')).toMatchObject({ state: 'succeeded' });
  });

  it('refuses bad requests with problem+json, never a 5xx', async () => {
    const badJson = await submit('alice', '{"tool": "slow_div",');
    expectProblem(badJson, 400);
    expect(badJson.body.detail).toMatch(/not valid JSON/);

    for (const body of ['[1, 2]', '"slow_div"', 'null', '42']) expectProblem(await submit('alice', body), 400);
    expectProblem(await call('alice', 'POST', '/v1/jobs'), 400); // no body at all

    const text = await submit('alice', 'tool=slow_div', { 'Content-Type': 'text/plain' });
    expectProblem(text, 415);
    const form = await submit('alice', 'tool=slow_div', { 'Content-Type': 'application/x-www-form-urlencoded' });
    expectProblem(form, 415);

    const huge = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1, pad: 'x'.repeat(1024 * 1024 + 10) } });
    expectProblem(huge, 413);

    const unknownTool = await submit('alice', { tool: 'no_such_tool', input: {} });
    expectProblem(unknownTool, 400);
    expect(fields(unknownTool)).toEqual(['/tool']);
    expectProblem(await submit('alice', { pipeline: 'no_such_pipeline' }), 400);
    expectProblem(await submit('alice', { tool: 'slow_div', pipeline: 'fan', input: {} }), 400);
    expectProblem(await submit('alice', { input: {} }), 400);

    const schema = await submit('alice', { tool: 'slow_div', input: { x: 'a' } });
    expectProblem(schema, 422);
    expect(fields(schema)).toEqual(expect.arrayContaining(['/input/x', '/input/y']));
    expect(schema.body.errors.every((e: any) => typeof e.message === 'string')).toBe(true);

    const extra = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1 }, priority: 9, 'a/b': 1 });
    expectProblem(extra, 400);
    expect(fields(extra)).toEqual(['/priority', '/a~1b']);

    const labels = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1 }, labels: { 'bad key': 1 } });
    expectProblem(labels, 422);
    expect(fields(labels)).toContain('/labels/bad key');
    const notBefore = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1 }, notBefore: 'tomorrow' });
    expectProblem(notBefore, 422);
    expect(fields(notBefore)).toEqual(['/notBefore']);

    const keys = await submit(
      'alice',
      { tool: 'slow_div', input: { x: 1, y: 1 }, idempotencyKey: 'a' },
      {
        'Idempotency-Key': 'b',
      },
    );
    expectProblem(keys, 400);
    expect(fields(keys)).toEqual(['/idempotencyKey']);
  });

  it('random bodies never produce a 5xx', async () => {
    const value = fc.oneof(
      fc.constantFrom('slow_div', 'fan', 'nope', '', '2h', 'x'.repeat(300)),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.string(),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
    );
    const body = fc.oneof(
      fc.record(
        {
          tool: fc.constantFrom('slow_div', 'no_such', 7 as unknown as string),
          pipeline: value,
          input: fc.oneof(value, fc.record({ x: value, y: value }, { requiredKeys: [] })),
          notBefore: value,
          notify: value,
          labels: value,
          idempotencyKey: value,
          review: value,
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        // The rare body that is valid starts a job: stop it at once.
        const r = await submit('bob', JSON.stringify(b));
        expect(r.status).toBeLessThan(500);
        if (r.status === 201) await ctx.jobs.client.workflow.getHandle(r.body.id).terminate();
      }),
      { numRuns: 60 },
    );
  });

  it('needs a valid bearer token', async () => {
    const none = await list('nobody', '');
    expectProblem(none, 401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await call('nobody', 'GET', '/v1/jobs', undefined, { Authorization: 'Bearer not-a-real-token' });
    expectProblem(wrong, 401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expectProblem(await submit('nobody', { tool: 'slow_div', input: { x: 1, y: 1 } }), 401);
  });

  it("answers 404 for another client's job exactly as for an unknown or malformed id; admins see all", async () => {
    const r = await submit('alice', { tool: 'slow_div', input: { x: 6, y: 3 } });
    const id = r.body.id;
    const theirs = await get('bob', id);
    expectProblem(theirs, 404);
    const unknown = await get('bob', 'bbbb-cccc-dddd-ffff-gggg');
    expectProblem(unknown, 404);
    const shape = (a: Answer) => ({ ...a.body, detail: a.body.detail.replace(/\S+$/, 'ID'), instance: undefined });
    expect(shape(theirs)).toEqual(shape(unknown));
    expectProblem(await get('bob', 'not-a-job-id'), 404);
    expectProblem(await get('alice', 'BBBB-CCCC-DDDD-FFFF-GGGG'), 404);
    for (const action of ['cancel', 'retry']) expectProblem(await call('bob', 'POST', `/v1/jobs/${id}/${action}`), 404);
    expectProblem(await call('bob', 'POST', `/v1/jobs/${id}/review`, { decision: 'approve' }), 404);

    const admin = await get('admin', id);
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({ id, clientId: 'alice' });
  });

  it('answers 503 when no worker answers for the job', async () => {
    // A job on a task queue nobody polls.
    const config = { ...ctx.jobs.config, taskQueue: `nobody-${randomUUID()}` };
    const { jobId } = await submitJob(ctx.jobs.client, config, 'alice', { tool: 'slow_div', input: { x: 1, y: 1 } });
    try {
      const r = await get('alice', jobId);
      expectProblem(r, 503);
      expect(r.body.detail).toMatch(/no worker answered/);
      expect(r.headers.get('retry-after')).toBe('10');
      expectProblem(await call('alice', 'POST', `/v1/jobs/${jobId}/review`, { decision: 'approve' }), 503);
    } finally {
      await ctx.jobs.client.workflow.getHandle(jobId).terminate();
    }
  });
});

describe('idempotency', () => {
  it('the same key from the same client gives the same job: 201, then 200 with its current status', async () => {
    const key = `key-${randomUUID()}`;
    const body = { tool: 'slow_div', input: { x: 9, y: 3 }, idempotencyKey: key };
    const first = await submit('alice', body);
    expect(first.status).toBe(201);
    const second = await submit('alice', body);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')).toBe(`/v1/jobs/${first.body.id}`);
    // Still the same job once it has finished.
    await until(first.body.id, 'succeeded');
    const third = await submit('alice', body);
    expect(third).toMatchObject({ status: 200, body: { id: first.body.id, state: 'succeeded' } });
    // The same key for a different request: a conflict.
    const conflict = await submit('alice', { ...body, input: { x: 10, y: 5 } });
    expectProblem(conflict, 409);
    expect(conflict.body.detail).toContain('different request');
    // Another client's key space is its own.
    const bobs = await submit('bob', body);
    expect(bobs.status).toBe(201);
    expect(bobs.body.id).not.toBe(first.body.id);
  });

  it('accepts the Idempotency-Key header (and the same key in the body)', async () => {
    const key = `hdr-${randomUUID()}`;
    const body = { tool: 'slow_div', input: { x: 4, y: 2 } };
    const first = await submit('alice', body, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    const second = await submit('alice', { ...body, idempotencyKey: key }, { 'Idempotency-Key': key });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const third = await submit('alice', { ...body, idempotencyKey: key });
    expect(third.body.id).toBe(first.body.id);
    expectProblem(await submit('alice', body, { 'Idempotency-Key': 'x'.repeat(201) }), 400);
  });
});

describe('GET /v1/jobs', () => {
  it('lists the caller’s jobs newest first, filtered by label, state, tool; pages with limit and pageToken', async () => {
    const tag = `t${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (const x of [2, 4, 6]) {
      const r = await submit('alice', { tool: 'slow_div', input: { x, y: 2 }, labels: { batch: tag, n: String(x) } });
      ids.push(r.body.id);
    }
    const newestFirst = [...ids].reverse();

    const page1 = await list('alice', `label=batch=${tag}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((i: any) => i.id)).toEqual(newestFirst.slice(0, 2));
    expect(page1.body.nextPageToken).toEqual(expect.any(String));
    const { finishedAt, ...item } = page1.body.items[0];
    if (finishedAt !== undefined) expect(Date.parse(finishedAt)).toBeGreaterThan(0);
    expect(item).toEqual({
      id: ids[2],
      kind: 'tool',
      name: 'slow_div',
      state: expect.stringMatching(/^(queued|running|succeeded)$/),
      labels: { batch: tag, n: '6' },
      createdAt: expect.any(String),
      links: expect.objectContaining({ self: `/v1/jobs/${ids[2]}` }),
    });
    const page2 = await list('alice', `label=batch=${tag}&limit=2&pageToken=${page1.body.nextPageToken}`);
    expect(page2.body.items.map((i: any) => i.id)).toEqual(newestFirst.slice(2));
    expect(page2.body.nextPageToken).toBeUndefined();

    // Two labels: AND.
    const both = await list('alice', `label=batch=${tag}&label=n=4`);
    expect(both.body.items.map((i: any) => i.id)).toEqual([ids[1]]);

    for (const id of ids) await until(id, 'succeeded');
    await eventually(async () => {
      const s = await list('alice', `label=batch=${tag}&state=succeeded`);
      return s.body.items.length === 3;
    });
    const done = await list('alice', `label=batch=${tag}&state=succeeded,failed`);
    expect(done.body.items.every((i: any) => i.state === 'succeeded' && i.finishedAt)).toBe(true);
    expect((await list('alice', `label=batch=${tag}&state=running,queued`)).body.items).toEqual([]);
    expect((await list('alice', `label=batch=${tag}&tool=slow_div`)).body.items).toHaveLength(3);
    expect((await list('alice', `label=batch=${tag}&tool=flaky,sleeper`)).body.items).toEqual([]);
    expect((await list('alice', `label=batch=${tag}&pipeline=fan`)).body.items).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await list('alice', `label=batch=${tag}&createdAfter=${future}`)).body.items).toEqual([]);
    expect((await list('alice', `label=batch=${tag}&createdBefore=${future}`)).body.items).toHaveLength(3);

    // Another client never sees them; an admin does.
    expect((await list('bob', `label=batch=${tag}`)).body.items).toEqual([]);
    expect((await list('admin', `label=batch=${tag}`)).body.items).toHaveLength(3);
    // Bob's own list holds only bob's jobs.
    const bobs = await list('bob', 'limit=100');
    // (Read the owner from visibility: jobs of other test files run on task queues this file has no worker for.)
    for (const i of bobs.body.items) {
      const d = await ctx.jobs.client.workflow.getHandle(i.id).describe();
      expect(d.typedSearchAttributes.get(CLIENT_KEY)).toBe('bob');
    }
  });

  it('lists a pipeline that continued as new once, in submission order, with its submission time', async () => {
    const tag = `can${randomUUID().slice(0, 8)}`;
    const chain = await ctx.jobs.submit(
      { pipeline: 'chain', input: {}, labels: { batch: tag } },
      { continueAsNewAfterEvents: 10 },
    );
    const later = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 1, y: 1 }, labels: { batch: tag } });
    const status = await ctx.jobs.finished(chain);
    await ctx.jobs.finished(later);
    const items = (await list('alice', `label=batch=${tag}`)).body.items;
    // The chain's latest run started after `later`, but it was submitted first.
    expect(items.map((i: any) => i.id)).toEqual([later, chain]);
    expect(items[1].createdAt).toBe(status.createdAt);
  });

  it('matches label values with quotes and backslashes literally', async () => {
    const tag = `q${randomUUID().slice(0, 8)}`;
    const value = `it's a \\ 'test' = "x" OR LonghaulClient != ''`;
    const r = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1 }, labels: { q: tag, note: value } });
    expect(r.status).toBe(201);
    const found = await list('alice', `label=q=${tag}&label=${encodeURIComponent(`note=${value}`)}`);
    expect(found.status).toBe(200);
    expect(found.body.items.map((i: any) => i.id)).toEqual([r.body.id]);
    expect(found.body.items[0].labels.note).toBe(value);
    const other = await list('alice', `label=q=${tag}&label=${encodeURIComponent(`note=${value}x`)}`);
    expect(other.body.items).toEqual([]);
  });

  it('refuses bad filters with a field list', async () => {
    const cases: [string, string][] = [
      ['state=bogus', 'state'],
      ['state=', 'state'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['label=noequals', 'label'],
      ['label=bad%20key=v', 'label'],
      [`tool=${encodeURIComponent("slow_div' OR LonghaulClient != '")}`, 'tool'],
      ['tool=slow_div&pipeline=fan', 'pipeline'],
      ['pipeline=a%20b', 'pipeline'],
      ['createdAfter=yesterday', 'createdAfter'],
      ['createdBefore=2025-01-01T00:00:00', 'createdBefore'],
      ['pageToken=!!!', 'pageToken'],
      [`pageToken=${Buffer.from('{"v":[1]}').toString('base64url')}`, 'pageToken'],
      [`pageToken=${Buffer.from('garbage').toString('base64url')}`, 'pageToken'],
      ['sort=asc', 'sort'],
      ['state[a]=b', 'state[a]'],
    ];
    for (const [query, field] of cases) {
      const r = await list('alice', query);
      expectProblem(r, 400);
      expect(fields(r), query).toContain(field);
    }
  });

  it('random filter values never produce a 5xx nor another client’s job', async () => {
    const r = await submit('bob', { tool: 'slow_div', input: { x: 1, y: 1 }, labels: { secret: 'bob' } });
    expect(r.status).toBe(201);
    const injections = ['secret=bob', "secret=bob' OR '1'='1", "x=') OR (LonghaulClient = 'bob'", 'secret=bob\\'];
    for (const label of injections) {
      const res = await list('alice', `label=${encodeURIComponent(label)}&limit=100`);
      expect(res.status, label).toBe(200);
      expect(res.body.items.map((i: any) => i.id)).not.toContain(r.body.id);
    }
    // (The filter itself works: an admin finds the job.)
    const admin = await list('admin', `label=secret=bob&limit=100`);
    expect(admin.body.items.map((i: any) => i.id)).toContain(r.body.id);

    const param = fc.constantFrom('state', 'tool', 'pipeline', 'label', 'createdAfter', 'createdBefore', 'limit');
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom("'", "\\'", "secret=bob' OR '1'='1", 'secret=bob', "x') OR (LonghaulClient = 'bob'"),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(param, value), { maxLength: 3 }), async (pairs) => {
        const q = new URLSearchParams(pairs).toString();
        const res = await list('alice', q);
        expect(res.status, q).toBeLessThan(500);
        if (res.status === 200) expect(res.body.items.map((i: any) => i.id)).not.toContain(r.body.id);
      }),
      { numRuns: 80 },
    );
  });
});

describe('POST /v1/jobs/:id/cancel', () => {
  it('cancels a running job (202), which ends canceled; a finished job answers 409', async () => {
    const r = await submit('alice', { tool: 'sleeper', input: { seconds: 60 } });
    const id = r.body.id;
    await until(id, 'running');
    const c = await call('alice', 'POST', `/v1/jobs/${id}/cancel`);
    expect(c.status).toBe(202);
    expect(c.body).toMatchObject({ id, links: { self: `/v1/jobs/${id}` } });
    const s = await until(id, 'canceled', 'failed', 'succeeded');
    expect(s.state).toBe('canceled');
    const again = await call('alice', 'POST', `/v1/jobs/${id}/cancel`);
    expectProblem(again, 409);
    expect(again.body.detail).toBe(`job ${id} is canceled`);
    expectProblem(await call('alice', 'POST', '/v1/jobs/not-an-id/cancel'), 404);
  });

  it('shows a job terminated behind its back as canceled, in its status and in the list', async () => {
    const tag = `k${randomUUID().slice(0, 8)}`;
    const r = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1 }, notBefore: '1d', labels: { k: tag } });
    const id = r.body.id;
    await until(id, 'queued');
    await ctx.jobs.client.workflow.getHandle(id).terminate('operator');
    expect((await get('alice', id)).body.state).toBe('canceled');
    expect((await list('alice', `label=k=${tag}`)).body.items).toEqual([
      expect.objectContaining({ id, state: 'canceled' }),
    ]);
    expect((await list('alice', `label=k=${tag}&state=canceled`)).body.items).toHaveLength(1);
    expect((await list('alice', `label=k=${tag}&state=queued`)).body.items).toHaveLength(0);
    expectProblem(await call('alice', 'POST', `/v1/jobs/${id}/cancel`), 409);
  });
});

describe('POST /v1/jobs/:id/review', () => {
  it('approves a pipeline waiting for review; 409 when not awaiting, 400 for a bad decision', async () => {
    const r = await submit('alice', { pipeline: 'divide_and_review', input: { x: 10, y: 5 } });
    const id = r.body.id;
    const waiting = await until(id, 'awaiting_review', 'failed');
    expect(waiting).toMatchObject({ state: 'awaiting_review', review: { stepId: 'check', message: 'Is this right?' } });

    const bad = await call('alice', 'POST', `/v1/jobs/${id}/review`, { decision: 'maybe', comment: 5, extra: 1 });
    expectProblem(bad, 400);
    expect(fields(bad).sort()).toEqual(['/comment', '/decision', '/extra']);
    expectProblem(await call('alice', 'POST', `/v1/jobs/${id}/review`, '["approve"]'), 400);
    expectProblem(
      await call('alice', 'POST', `/v1/jobs/${id}/review`, 'approve', { 'Content-Type': 'text/plain' }),
      415,
    );
    const wrongStep = await call('alice', 'POST', `/v1/jobs/${id}/review`, { decision: 'approve', stepId: 'divide' });
    expectProblem(wrongStep, 409);
    expect(wrongStep.body.detail).toMatch(/divide is not awaiting/);

    const ok = await call('alice', 'POST', `/v1/jobs/${id}/review`, { decision: 'approve', comment: 'fine' });
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(id);
    expect(ok.body.state).not.toBe('awaiting_review');
    expect(ok.body.reviews).toEqual([
      expect.objectContaining({
        stepId: 'check',
        decision: 'approve',
        comment: 'fine',
        reviewer: 'alice',
        via: 'update',
      }),
    ]);
    expect(await until(id, 'succeeded', 'failed')).toMatchObject({ state: 'succeeded' });

    const late = await call('alice', 'POST', `/v1/jobs/${id}/review`, { decision: 'reject' });
    expectProblem(late, 409);
    expect(late.body.detail).toBe(`job ${id} is succeeded, not awaiting review`);
  });

  it('answers 409 for a job that is not awaiting review', async () => {
    const r = await submit('alice', { tool: 'slow_div', input: { x: 1, y: 1 }, notBefore: '1d', review: {} });
    const id = r.body.id;
    expect(r.body.steps.map((s: any) => s.id)).toEqual(['run', 'review']);
    try {
      const res = await call('alice', 'POST', `/v1/jobs/${id}/review`, { decision: 'approve', reviewer: 'rita' });
      expectProblem(res, 409);
      expect(res.body.detail).toBe(`job ${id} is queued, not awaiting review`);
      expect((await get('alice', id)).body.reviews).toEqual([]);
    } finally {
      await call('alice', 'POST', `/v1/jobs/${id}/cancel`);
    }
  });
});

describe('POST /v1/jobs/:id/retry', () => {
  it('retries a failed tool job as a new linked job; 409 for a job that did not fail', async () => {
    const r = await submit('alice', { tool: 'slow_div', input: { x: 8, y: 0 }, labels: { why: 'zero' } });
    const id = r.body.id;
    const failed = await until(id, 'failed', 'succeeded');
    expect(failed).toMatchObject({ state: 'failed', error: { exitCode: 2 } });

    const retry = await call('alice', 'POST', `/v1/jobs/${id}/retry`);
    expect(retry.status).toBe(201);
    const newId = retry.body.id;
    expect(newId).not.toBe(id);
    expect(retry.headers.get('location')).toBe(`/v1/jobs/${newId}`);
    expect(retry.body).toMatchObject({ retryOf: id, state: 'queued', kind: 'tool', name: 'slow_div' });
    expect(retry.body.labels).toEqual({ why: 'zero' });
    expect(await until(newId, 'failed', 'succeeded')).toMatchObject({ state: 'failed', retryOf: id });

    // from: failed on a tool job is a plain retry; an admin's retry stays the owner's job.
    const byAdmin = await call('admin', 'POST', `/v1/jobs/${id}/retry`, { from: 'failed' });
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body).toMatchObject({ retryOf: id, clientId: 'alice' });
    expect((await get('alice', byAdmin.body.id)).status).toBe(200);

    const bad = await call('alice', 'POST', `/v1/jobs/${id}/retry`, { from: 'middle', x: 1 });
    expectProblem(bad, 400);
    expect(fields(bad).sort()).toEqual(['/from', '/x']);

    const ok = await submit('alice', { tool: 'slow_div', input: { x: 2, y: 1 } });
    await until(ok.body.id, 'succeeded');
    const notFailed = await call('alice', 'POST', `/v1/jobs/${ok.body.id}/retry`);
    expectProblem(notFailed, 409);
    expect(notFailed.body.detail).toMatch(/is succeeded; only failed or canceled jobs can be retried/);
  });

  it('redrives a failed pipeline from the failed step, reusing the steps that succeeded', async () => {
    const r = await submit('alice', { pipeline: 'strict_fan', input: { ids: seqIds(15) } });
    const id = r.body.id;
    const failed = await until(id, 'failed', 'succeeded');
    expect(failed.steps.map((s: any) => s.state)).toEqual(['succeeded', 'failed', 'skipped']);

    const redrive = await call('alice', 'POST', `/v1/jobs/${id}/retry`, { from: 'failed' });
    expect(redrive.status).toBe(201);
    expect(redrive.body).toMatchObject({ retryOf: id, kind: 'pipeline', name: 'strict_fan' });
    expect(redrive.body.steps[0]).toMatchObject({ id: 'fetch', state: 'succeeded', reused: true });
    expect(redrive.body.steps.slice(1).map((s: any) => s.state)).toEqual(['pending', 'pending']);
    const s = await until(redrive.body.id, 'failed', 'succeeded');
    expect(s.steps[0]).toMatchObject({ id: 'fetch', state: 'succeeded', reused: true });
    expect(s.steps[1].state).toBe('failed');
  });
});
