// The `pipeline` workflow end to end: pipes, fan-out/fan-in with a concurrency limit, tolerated failures,
// review steps, redrive, continue-as-new and cancellation.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { retryJob } from '../../jobs/retry';
import { reviewUpdate, reviewSignal } from '../../workflows/definitions';
import { eventually, useJobsContext } from '../helpers/jobs';

const ctx = useJobsContext();
const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `SEQ${String(i + from).padStart(3, '0')}`);

describe('pipeline workflow', () => {
  it('pipes one step into the next (fetch | align)', async () => {
    const jobId = await ctx.submit({ pipeline: 'fetch_align', input: { ids: ['SEQ001', 'SEQ002', 'SEQ003'] } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(s.steps.map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
    const aligned = fs.readFileSync(path.join(ctx.config.dataDir, 'jobs', s.result!.stdoutFile!), 'utf8');
    const lines = aligned.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('SEQ001');
    expect(new Set(lines.map((l) => l.length)).size).toBe(1); // padded to equal length
  });

  it('fans out 20 items with at most 4 at once, tolerates one failure and fans in', async () => {
    const items = ids(20); // SEQ013 fails (test config), 1 failure is tolerated
    const jobId = await ctx.submit({ pipeline: 'fan', input: { ids: items, delayMs: 300 } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    const stats = s.steps.find((x) => x.id === 'stats')!;
    expect(stats.state).toBe('succeeded');
    expect(stats.result?.items).toMatchObject({ total: 20, succeeded: 19, failed: 1 });
    expect(stats.result?.items?.failures[0]).toMatchObject({ index: 12, exitCode: 5 });
    const collected = stats.result!.value as ({ id: string } | null)[];
    expect(collected).toHaveLength(20);
    expect(collected[12]).toBeNull();
    expect(collected[0]).toMatchObject({ id: 'SEQ001' });
    // Fan-in: merge_stats read the collected array on stdin.
    const merged = s.steps.find((x) => x.id === 'merge')!.result!.value as { count: number };
    expect(merged.count).toBe(19);
    expect(s.steps.find((x) => x.id === 'align')!.state).toBe('succeeded');

    // The concurrency limit, from the item children's start and close times.
    const spans: [number, number][] = [];
    for await (const w of ctx.client.workflow.list({ query: `WorkflowId STARTS_WITH '${jobId}--stats--'` })) {
      spans.push([w.startTime.getTime(), w.closeTime!.getTime()]);
    }
    expect(spans).toHaveLength(20);
    let maxOverlap = 0;
    for (const [start] of spans) {
      const overlapping = spans.filter(([a, b]) => a <= start && start < b).length;
      maxOverlap = Math.max(maxOverlap, overlapping);
    }
    expect(maxOverlap).toBeLessThanOrEqual(4);
    expect(maxOverlap).toBeGreaterThanOrEqual(2); // and it did run in parallel
  });

  it('fails a fan-out beyond its tolerance and skips what depends on it; redrive reuses succeeded steps', async () => {
    const jobId = await ctx.submit({ pipeline: 'strict_fan', input: { ids: ids(15) } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ type: 'FanOutFailed', step: 'stats' });
    expect(s.steps.map((x) => x.state)).toEqual(['succeeded', 'failed', 'skipped']);
    expect((await ctx.client.workflow.getHandle(jobId).describe()).status.name).toBe('FAILED');

    // Redrive: fetch is reused (not run again), stats fails again the same way.
    const fetchOut = path.join(ctx.config.dataDir, 'jobs', s.steps[0].result!.stdoutFile!);
    const mtime = fs.statSync(fetchOut).mtimeMs;
    const again = await retryJob(ctx.client, ctx.config, 'alice', jobId, { from: 'failed' });
    const r = await ctx.finished(again.jobId);
    expect(r.retryOf).toBe(jobId);
    expect(r.steps[0]).toMatchObject({ id: 'fetch', state: 'succeeded', reused: true });
    expect(fs.statSync(fetchOut).mtimeMs).toBe(mtime);
    expect(fs.existsSync(path.join(ctx.config.dataDir, 'jobs', again.jobId, 'steps', 'fetch'))).toBe(false);
    expect(r.steps[1].state).toBe('failed');
    // Another client cannot retry it.
    await expect(retryJob(ctx.client, ctx.config, 'mallory', jobId)).rejects.toMatchObject({ status: 404 });
  });

  it('waits for a review: approve by update continues the pipeline', async () => {
    const jobId = await ctx.submit({ pipeline: 'divide_and_review', input: { x: 10, y: 5 } });
    const handle = ctx.client.workflow.getHandle(jobId);
    const waiting = await eventually(async () => {
      const s = await ctx.status(jobId);
      return s.state === 'awaiting_review' ? s : undefined;
    });
    expect(waiting.review).toMatchObject({ stepId: 'check', message: 'Is this right?', default: 'approve' });
    expect(Date.parse(waiting.review!.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(waiting.steps[0].result?.value).toBe('2');
    const after = await handle.executeUpdate(reviewUpdate, {
      args: [{ decision: 'approve', comment: 'looks right', reviewer: 'rita' }],
    });
    expect(after.reviews[0]).toMatchObject({ decision: 'approve', reviewer: 'rita', via: 'update' });
    expect(after.state).not.toBe('awaiting_review');
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(s.steps.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // A job that is not awaiting review refuses a decision (and records nothing).
    const queued = await ctx.submit({ tool: 'slow_div', input: { x: 1, y: 1 }, notBefore: '1d', review: {} });
    const q = ctx.client.workflow.getHandle(queued);
    await expect(q.executeUpdate(reviewUpdate, { args: [{ decision: 'reject' }] })).rejects.toMatchObject({
      cause: { message: 'the job is not awaiting review' },
    });
    expect(await ctx.status(queued)).toMatchObject({ state: 'queued', reviews: [] });
    await q.terminate();
  });

  it('a rejected review fails the job; invalid decisions are refused; the signal works too', async () => {
    const jobId = await ctx.submit({ pipeline: 'divide_and_review', input: { x: 10, y: 5 } });
    const handle = ctx.client.workflow.getHandle(jobId);
    await eventually(async () => (await ctx.status(jobId)).state === 'awaiting_review');
    await expect(handle.executeUpdate(reviewUpdate, { args: [{ decision: 'maybe' as any }] })).rejects.toMatchObject({
      cause: { message: 'decision must be "approve" or "reject"' },
    });
    await handle.signal(reviewSignal, { decision: 'reject', comment: 'wrong answer', reviewer: 'rob' });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ type: 'ReviewRejected', step: 'check' });
    expect(s.error!.message).toBe('rejected by rob: wrong answer');
    expect(s.reviews).toEqual([expect.objectContaining({ decision: 'reject', via: 'signal', reviewer: 'rob' })]);
    expect(s.steps.map((x) => x.state)).toEqual(['succeeded', 'failed', 'skipped']);
  });

  it('onFailure continue: dependents of the failed step are skipped, the rest goes on', async () => {
    const jobId = await ctx.submit({ pipeline: 'partial', input: {} });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(Object.fromEntries(s.steps.map((x) => [x.id, x.state]))).toEqual({
      good: 'succeeded',
      bad: 'failed',
      needs_bad: 'skipped',
      needs_good: 'succeeded',
    });
    expect(s.result?.value).toBe('1');
    expect(s.message).toContain('bad');
  });

  it('fans out over an input array and concatenates the outputs in item order', async () => {
    const jobId = await ctx.submit({ pipeline: 'halves', input: { numbers: [2, 4, 6, 8, 10, 12, 14] } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    const out = fs.readFileSync(path.join(ctx.config.dataDir, 'jobs', s.result!.stdoutFile!), 'utf8');
    expect(out.trim().split('\n')).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `The answer is: ${n}`));
    expect(s.steps[0].items).toMatchObject({ total: 7, succeeded: 7, failed: 0 });
  });

  it('checks a step input built from templates against the tool schema before running it', async () => {
    const jobId = await ctx.submit({ pipeline: 'bad_template', input: {} });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ type: 'BadInput', step: 'divide' });
    expect(s.error!.message).toBe('slow_div: invalid input: /x must be integer');
    expect(fs.existsSync(path.join(ctx.config.dataDir, 'jobs', jobId, 'steps', 'divide', 'stdout.log'))).toBe(false);
  });

  it('onFailure retry: runs a failed step again, up to `retries` more times', async () => {
    // The tool itself has no retries (maximumAttempts 1); the step is run again by the pipeline.
    const ok = await ctx.finished(await ctx.submit({ pipeline: 'retry_step', input: { failures: 2 } }));
    expect(ok.state).toBe('succeeded');
    expect(ok.steps[0]).toMatchObject({ state: 'succeeded', attempt: 3, result: { stdoutTail: 'ok attempt 3\n' } });
    const failed = await ctx.finished(await ctx.submit({ pipeline: 'retry_step', input: { failures: 3 } }));
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({ step: 'shaky', exitCode: 1 });
  }, 30_000);

  it('continues as new on a long chain and keeps every step result', async () => {
    const jobId = await ctx.submit({ pipeline: 'chain', input: { y: 1 } }, { continueAsNewAfterEvents: 10 });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(s.steps.map((x) => x.result?.value)).toEqual(['8', '4', '4', '4']);
    let runs = 0;
    for await (const _ of ctx.client.workflow.list({ query: `WorkflowId = '${jobId}'` })) runs++;
    expect(runs).toBeGreaterThan(1);
  });

  it('cancel stops running steps and children and ends canceled', async () => {
    const jobId = await ctx.submit({ pipeline: 'fan', input: { ids: ids(12), delayMs: 5000 } });
    await eventually(async () => {
      const s = await ctx.status(jobId);
      return (s.steps.find((x) => x.id === 'stats')?.items?.started ?? 0) > 0 || s.steps[1].state === 'running';
    });
    await ctx.client.workflow.getHandle(jobId).cancel();
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('canceled');
    expect(s.steps.find((x) => x.id === 'stats')!.state).toBe('canceled');
    const open = await ctx.client.workflow.count(`WorkflowId STARTS_WITH '${jobId}--' AND ExecutionStatus = 'Running'`);
    expect(open.count).toBe(0);
  });
});
