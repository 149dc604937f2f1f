// Signed review links (/v1/reviews/:token) against a real worker: GET shows a page and never decides, POST decides
// once, and expired, tampered or used links get a clear page and no decision.
import { describe, expect, it } from 'vitest';
import { signReviewToken } from '../../jobs/review-links';
import type { Decision } from '../../workflows/types';
import { useApiContext } from '../helpers/api';
import { eventually, TEST_SECRET } from '../helpers/jobs';

const ctx = useApiContext();

const HOUR = 3_600_000;

function link(jobId: string, decision: Decision, opts: { stepId?: string; expiresAt?: number } = {}): string {
  const token = signReviewToken(TEST_SECRET, {
    jobId,
    stepId: opts.stepId ?? 'check',
    decision,
    expiresAt: opts.expiresAt ?? Date.now() + HOUR,
  });
  return `${ctx.baseUrl}/v1/reviews/${token}`;
}

async function awaitingJob(input: Record<string, unknown> = { x: 10, y: 5 }): Promise<string> {
  const jobId = await ctx.jobs.submit({ pipeline: 'divide_and_review', input });
  await eventually(async () => (await ctx.jobs.status(jobId)).state === 'awaiting_review');
  return jobId;
}

function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function html(res: Response, status: number): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  const csp = res.headers.get('content-security-policy')!;
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("form-action 'self'");
  return res.text();
}

describe('review links', () => {
  it('GET shows a confirmation page and decides nothing; POST approves and the job goes on', async () => {
    const jobId = await awaitingJob();
    const url = link(jobId, 'approve');

    const page = await html(await fetch(url), 200);
    expect(page).toContain(jobId);
    expect(page).toContain('divide_and_review');
    expect(page).toContain('Is this right?');
    expect(page).toMatch(/<pre>2<\/pre>/); // the divide step's result, 10 / 5
    expect(page).toMatch(/<form method="post">/);
    expect(page).toContain('name="comment"');
    expect(page).toContain('name="reviewer"');
    expect(page).toMatch(/<button[^>]*>Approve<\/button>/);
    expect(page).not.toMatch(/>Reject</);
    // Prefetching (twice, even) changes nothing.
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await ctx.jobs.status(jobId)).toMatchObject({ state: 'awaiting_review', reviews: [] });

    const json = await fetch(url, { headers: { Accept: 'application/json' } });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({
      jobId,
      kind: 'pipeline',
      name: 'divide_and_review',
      state: 'awaiting_review',
      stepId: 'check',
      decision: 'approve',
      message: 'Is this right?',
    });

    const comment = 'fine <script>alert("x")</script> & done';
    const done = await html(await postForm(url, { comment, reviewer: 'Rita <rita@example.org>' }), 200);
    expect(done).toContain('Recorded: approved');
    expect(done).not.toContain('<script>');
    expect(done).toContain('fine &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; done');
    expect(done).toContain('Rita &lt;rita@example.org&gt;');

    const final = await ctx.jobs.finished(jobId);
    expect(final.state).toBe('succeeded');
    expect(final.reviews).toEqual([
      expect.objectContaining({
        stepId: 'check',
        decision: 'approve',
        comment,
        reviewer: 'Rita <rita@example.org>',
        via: 'update',
      }),
    ]);

    // The same link again, and its opposite: already decided, nothing recorded.
    const again = await html(await postForm(url, { comment: 'twice' }), 409);
    expect(again).toContain('already decided');
    expect(again).toContain('approved by Rita &lt;rita@example.org&gt;');
    expect(await html(await fetch(url), 409)).toContain('already decided');
    const opposite = await fetch(link(jobId, 'reject'), { method: 'POST', headers: { Accept: 'application/json' } });
    expect(opposite.status).toBe(409);
    expect(opposite.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await opposite.json()).toMatchObject({
      status: 409,
      jobId,
      stepId: 'check',
      state: 'succeeded',
      decided: { decision: 'approve', reviewer: 'Rita <rita@example.org>' },
    });
    expect((await ctx.jobs.status(jobId)).reviews).toHaveLength(1);
  });

  it('a reject link fails the job (JSON body and answer); the reviewer defaults to "review link"', async () => {
    const jobId = await awaitingJob();
    const res = await fetch(link(jobId, 'reject'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ comment: 'wrong' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ jobId, stepId: 'check', decision: 'reject', reviewer: 'review link' });
    const final = await ctx.jobs.finished(jobId);
    expect(final.state).toBe('failed');
    expect(final.reviews[0]).toMatchObject({ decision: 'reject', comment: 'wrong', reviewer: 'review link' });
  });

  it('a form POST without fields works too', async () => {
    const jobId = await awaitingJob();
    expect(await html(await fetch(link(jobId, 'approve'), { method: 'POST' }), 200)).toContain('Recorded: approved');
    expect((await ctx.jobs.finished(jobId)).state).toBe('succeeded');
  });

  it('expired, tampered and malformed links get a page and no decision', async () => {
    const jobId = await awaitingJob();
    const expired = link(jobId, 'approve', { expiresAt: Date.now() - 1000 });
    for (const res of [await fetch(expired), await postForm(expired, {})]) {
      const page = await html(res, 410);
      expect(page).toContain('expired');
      expect(page).toContain('No decision was recorded');
    }

    const good = link(jobId, 'reject');
    const [payload, sig] = good.slice(good.lastIndexOf('/') + 1).split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ jobId, stepId: 'check', decision: 'approve', expiresAt: Date.now() + HOUR }),
    ).toString('base64url');
    const flipped = sig.slice(0, 3) + (sig[3] === 'A' ? 'B' : 'A') + sig.slice(4);
    for (const token of [`${forgedPayload}.${sig}`, `${payload}.${flipped}`, 'not-a-token', `${payload}.${sig}.x`]) {
      const url = `${ctx.baseUrl}/v1/reviews/${token}`;
      for (const res of [await fetch(url), await postForm(url, {})]) {
        const page = await html(res, 400);
        expect(page).toContain('invalid');
        expect(page).toContain('No decision was recorded');
      }
    }
    const asJson = await fetch(`${ctx.baseUrl}/v1/reviews/${forgedPayload}.${sig}`, {
      method: 'POST',
      headers: { Accept: 'application/json' },
    });
    expect(asJson.status).toBe(400);
    expect(await asJson.json()).toMatchObject({ status: 400, reason: 'bad-signature' });
    expect(await ctx.jobs.status(jobId)).toMatchObject({ state: 'awaiting_review', reviews: [] });
  });

  it('a link for a step that is not awaited, or for a gone job, decides nothing', async () => {
    const jobId = await awaitingJob();
    const wrongStep = link(jobId, 'approve', { stepId: 'divide' });
    expect(await html(await fetch(wrongStep), 409)).toContain('not awaiting a decision');
    expect(await html(await postForm(wrongStep, {}), 409)).toContain('not awaiting a decision');
    const gone = link('bcdfg-hjklm-npqrs-tvwxz', 'approve');
    expect(await html(await fetch(gone), 404)).toContain('no longer exists');
    expect(await html(await postForm(gone, {}), 404)).toContain('no longer exists');
    expect(await ctx.jobs.status(jobId)).toMatchObject({ state: 'awaiting_review', reviews: [] });

    // An oversized or invalid form is refused with a page.
    const url = link(jobId, 'approve');
    expect(await html(await postForm(url, { comment: 'x'.repeat(20_000) }), 413)).toContain('too large');
    expect(await html(await postForm(url, { reviewer: 'r'.repeat(300) }), 400)).toContain('No decision');
    const badJson = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
    expect(await html(badJson, 400)).toContain('No decision');
    expect(await ctx.jobs.status(jobId)).toMatchObject({ state: 'awaiting_review', reviews: [] });
    // Leave nothing waiting for 30 days.
    await postForm(url, {});
  });

  it('review links need no bearer token, and other API routes still do', async () => {
    const res = await fetch(`${ctx.baseUrl}/v1/reviews/x.y`);
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect((await fetch(`${ctx.baseUrl}/v1/jobs`)).status).toBe(401);
  });
});
