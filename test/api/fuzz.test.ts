// Property: whatever body a client sends to the routes that take one, the answer is never a 5xx. Errors are
// problem+json with a matching status and no stack trace; successes are jobs. Bodies are random JSON, random
// objects built around the real fields (some of them valid submissions, which start real jobs), and raw text
// sent as application/json.
import fc from 'fast-check';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_ID_PATTERN } from '../../jobs/ids';
import { useApiContext } from '../helpers/api';

// Tools that finish at once (no sleeper: a valid body would start a minute-long job).
const TOOLS = ['slow_div', 'flaky', 'fetch_seq', 'no_such_tool'];
const PIPELINES = ['fetch_align', 'divide_and_review', 'chain', 'no_such_pipeline'];

const anything = fc.jsonValue({ maxDepth: 3 });
const text = fc.string({ maxLength: 40 });
/** Mostly `valid`, sometimes `invalid` or anything at all, so that some bodies pass every check and others fail
 * at one. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown> = anything) =>
  fc.oneof(
    { weight: 6, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: invalid },
    { weight: 1, arbitrary: anything },
  );

/** The optional fields of a submission. Webhooks only ever point at a closed local port: no calls to random hosts
 * (email needs SMTP, which the test config lacks, so those fail at once without network). */
const options = {
  notBefore: mostly(
    fc.constantFrom('1s', '2h', '2030-01-01T00:00:00Z'),
    fc.constantFrom('soon', '', '-1h', '99999999d'),
  ),
  notify: mostly(
    fc.oneof(
      fc.record({ email: fc.constantFrom('ops@example.com', 'a.b+jobs@example.org') }),
      fc.constant({ webhook: 'http://127.0.0.1:9/hook' }),
    ),
    fc.oneof(fc.record({ email: text }), fc.record({ webhook: text }), fc.record({ sms: text })),
  ),
  labels: mostly(
    fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/), text, { maxKeys: 3 }),
    fc.dictionary(text, anything),
  ),
  idempotencyKey: mostly(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('', 'x'.repeat(201))),
  review: mostly(
    fc.record({ timeout: fc.constantFrom('1h', '30d') }, { requiredKeys: [] }),
    fc.record({ timeout: text }),
  ),
};
const input = mostly(
  fc.record(
    {
      x: mostly(fc.integer({ min: -9, max: 9 })),
      y: mostly(fc.integer({ min: 0, max: 9 })),
      seconds: mostly(fc.constant(0), fc.constant(-1)),
      ids: mostly(fc.array(fc.constantFrom('SEQ001', 'SEQ002'), { maxLength: 2 })),
      failAttempts: mostly(fc.nat(1)),
    },
    { requiredKeys: [] },
  ),
);

/** Objects shaped like submissions: mostly exactly one of tool/pipeline, so validation goes past the first check;
 * sometimes both, neither, or an unknown field. */
const submission = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ tool: mostly(fc.constantFrom(...TOOLS)), input, ...options }, { requiredKeys: ['tool'] }),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { pipeline: mostly(fc.constantFrom(...PIPELINES)), input, ...options },
      { requiredKeys: ['pipeline'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { tool: anything, pipeline: anything, input, extra: anything, ...options },
      { requiredKeys: [] },
    ),
  },
);

/** A body as sent: JSON of a value, or raw text that may not be JSON at all. */
const body = fc.oneof(
  { weight: 6, arbitrary: submission.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: anything.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '{"tool":', 'null', '[]', '{"__proto__":{"x":1}}', '\u0000') },
);

const decision = fc.record(
  {
    decision: fc.oneof(fc.constantFrom('approve', 'reject', 'maybe'), anything),
    comment: fc.oneof(text, anything),
    reviewer: fc.oneof(text, anything),
    stepId: fc.oneof(fc.constantFrom('check', 'review', '1bad'), anything),
  },
  { requiredKeys: [] },
);
const decisionBody = fc.oneof(
  { weight: 4, arbitrary: decision.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: body },
);

const retryBody = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('{}', '{"from":"start"}', '{"from":"failed"}', '') },
  { weight: 1, arbitrary: fc.record({ from: anything }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: body },
);

/** An Idempotency-Key header, now and then (printable ASCII: anything else cannot be sent). */
const headerValue = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }) },
);

function checkAnswer(res: request.Response, what: string): void {
  expect(res.status, `${what} → ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  expect(res.text).not.toMatch(/\n\s+at /); // no stack trace
  if (res.status >= 400) {
    expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(res.status);
    expect(typeof res.body.title).toBe('string');
  } else {
    expect(res.body.id, what).toMatch(JOB_ID_PATTERN);
  }
}

describe('random bodies never produce a 5xx', () => {
  // The rate limit would answer 429s long before the properties are done.
  const ctx = useApiContext({ options: { rateLimitPerMinute: 1_000_000 } });
  const realIds: string[] = [];

  beforeAll(async () => {
    // Finished jobs of alice's, so that some review and retry requests get past the lookup.
    const ok = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 2 } });
    const failed = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 0 } });
    await Promise.all([ctx.jobs.finished(ok), ctx.jobs.finished(failed)]);
    realIds.push(ok, failed);
  });

  const jobId = () =>
    fc.oneof(
      fc.constantFrom(...realIds),
      fc.stringMatching(JOB_ID_PATTERN),
      fc.string({ maxLength: 30 }).filter((s) => s.length > 0),
    );

  it('POST /v1/jobs', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(body, headerValue, async (raw, key) => {
        let req = request(ctx.app).post('/v1/jobs').set(ctx.auth('alice')).set('Content-Type', 'application/json');
        if (key !== undefined) req = req.set('Idempotency-Key', key);
        checkAnswer(await req.send(raw), `POST /v1/jobs ${raw.slice(0, 200)}`);
      }),
      { numRuns: 150 },
    );
  });

  it('POST /v1/jobs/{id}/review', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(jobId(), decisionBody, async (id, raw) => {
        const res = await request(ctx.app)
          .post(`/v1/jobs/${encodeURIComponent(id)}/review`)
          .set(ctx.auth('alice'))
          .set('Content-Type', 'application/json')
          .send(raw);
        expect(res.status, `${id} ${raw.slice(0, 200)} → ${res.text.slice(0, 300)}`).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/^application\/(problem\+)?json/);
        // Nothing here awaits review, so no decision can succeed.
        expect(res.status).toBeGreaterThanOrEqual(400);
        checkAnswer(res, `review ${id} ${raw.slice(0, 200)}`);
      }),
      { numRuns: 100 },
    );
  });

  it('POST /v1/jobs/{id}/retry', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(jobId(), retryBody, async (id, raw) => {
        const res = await request(ctx.app)
          .post(`/v1/jobs/${encodeURIComponent(id)}/retry`)
          .set(ctx.auth('alice'))
          .set('Content-Type', 'application/json')
          .send(raw);
        checkAnswer(res, `retry ${id} ${raw.slice(0, 200)}`);
      }),
      { numRuns: 100 },
    );
  });
});
