// The `job` workflow end to end: real worker, real longhaul-server, real example tools.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SubmitError } from '../../jobs/submit';
import { isJobId } from '../../jobs/ids';
import { reviewUpdate } from '../../workflows/definitions';
import { eventually, useJobsContext } from '../helpers/jobs';

const ctx = useJobsContext();

/** Running (a zombie awaiting its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('job workflow', () => {
  it('runs slow_div 8/2 and reports the answer 4', async () => {
    const jobId = await ctx.submit({ tool: 'slow_div', input: { x: 8, y: 2 } });
    expect(isJobId(jobId)).toBe(true);
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(s.result?.value).toBe('4');
    expect(s.result?.exitCode).toBe(0);
    expect(s.progress).toBe(1);
    expect(s.steps[0]).toMatchObject({ id: 'run', state: 'succeeded' });
    const stdout = path.join(ctx.config.dataDir, 'jobs', s.result!.stdoutFile!);
    expect(fs.readFileSync(stdout, 'utf8')).toContain('The answer is: 4');
    expect(s.startedAt && s.finishedAt && s.createdAt).toBeTruthy();
  });

  it('fails 8/0 with the exit code and stderr kept, without retrying a final exit code', async () => {
    const jobId = await ctx.submit({ tool: 'slow_div', input: { x: 8, y: 0 } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ type: 'CommandFailed', exitCode: 2, step: 'run' });
    expect(s.error!.stderrTail).toContain('division by zero');
    expect(s.error!.message).toContain('division by zero');
    expect(s.steps[0].state).toBe('failed');
    const stderr = path.join(ctx.config.dataDir, 'jobs', jobId, 'steps', 'run', 'stderr.log');
    expect(fs.readFileSync(stderr, 'utf8')).toContain('division by zero');
    const d = await ctx.client.workflow.getHandle(jobId).describe();
    expect(d.status.name).toBe('FAILED');
  });

  it('retries a failing command and succeeds on the 2nd attempt', async () => {
    const jobId = await ctx.submit({ tool: 'flaky', input: { failAttempts: 1 } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(s.result?.stdoutTail).toContain('ok attempt 2');
  });

  it('cancel mid-run kills the process group and ends canceled', async () => {
    const jobId = await ctx.submit({ tool: 'sleeper', input: { seconds: 60 } });
    const out = path.join(ctx.config.dataDir, 'jobs', jobId, 'steps', 'run', 'stdout.log');
    const pids = await eventually(async () => {
      const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      const pid = /pid (\d+)/.exec(text)?.[1];
      const child = /child (\d+)/.exec(text)?.[1];
      return pid && child ? [Number(pid), Number(child)] : undefined;
    });
    expect(pids.every(alive)).toBe(true);
    await eventually(async () => (await ctx.status(jobId)).state === 'running');
    await ctx.client.workflow.getHandle(jobId).cancel();
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('canceled');
    expect(s.steps[0].state).toBe('canceled');
    expect(pids.some(alive)).toBe(false);
    const d = await ctx.client.workflow.getHandle(jobId).describe();
    expect(d.status.name).toBe('CANCELLED');
  });

  it('shows heartbeat progress in the status query', async () => {
    const jobId = await ctx.submit({ tool: 'slow_div', input: { x: 9, y: 3, seconds: 3 } });
    const mid = await eventually(async () => {
      const s = await ctx.status(jobId);
      const p = s.steps[0].progress;
      return s.state === 'running' && p !== undefined && p > 0 && p < 1 ? s : undefined;
    });
    expect(mid.progress).toBeGreaterThan(0);
    expect(mid.progress).toBeLessThan(1);
    const s = await ctx.finished(jobId);
    expect(s.result?.value).toBe('3');
    // The version (the SSE event id) grows, and a finished job still reports its last one.
    expect(mid.version).toBeGreaterThan(0);
    expect(s.version).toBeGreaterThan(mid.version!);
  });

  it('waits for an exclusive resource: never two holders at once, FIFO', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await ctx.submit({ tool: 'slow_div_exclusive', input: { x: i, y: 1, seconds: 0.5 } }));
    }
    const queued = await eventually(async () => {
      const all = await Promise.all(ids.map((id) => ctx.status(id)));
      return all.find((s) => s.state === 'queued' && s.queuedReason?.includes('exclusive-slot'));
    });
    expect(queued.queuedReason).toBe('waiting for resource exclusive-slot');
    const done = await Promise.all(ids.map((id) => ctx.finished(id)));
    expect(done.map((s) => s.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const spans = done
      .map((s) => [Date.parse(s.steps[0].startedAt!), Date.parse(s.steps[0].finishedAt!)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  });

  it('releases a resource held by a job that was terminated', async () => {
    const holder = await ctx.submit({ tool: 'sleeper_exclusive', input: { seconds: 60 } });
    await eventually(async () => (await ctx.status(holder)).state === 'running');
    const waiter = await ctx.submit({ tool: 'slow_div_exclusive', input: { x: 4, y: 2, seconds: 0 } });
    await eventually(async () => (await ctx.status(waiter)).state === 'queued');
    // Terminated: no workflow code runs, so nothing releases the slot but the lock's liveness check.
    await ctx.client.workflow.getHandle(holder).terminate('test');
    const s = await ctx.finished(waiter);
    expect(s).toMatchObject({ state: 'succeeded', result: { value: '2' } });
  });

  it('a job canceled while waiting for a resource ends canceled and the queue moves on', async () => {
    const holder = await ctx.submit({ tool: 'sleeper_exclusive', input: { seconds: 3 } });
    await eventually(async () => (await ctx.status(holder)).state === 'running');
    const canceled = await ctx.submit({ tool: 'slow_div_exclusive', input: { x: 1, y: 1, seconds: 0 } });
    const next = await ctx.submit({ tool: 'slow_div_exclusive', input: { x: 6, y: 2, seconds: 0 } });
    await eventually(async () => (await ctx.status(next)).state === 'queued');
    await ctx.client.workflow.getHandle(canceled).cancel();
    expect((await ctx.finished(canceled)).state).toBe('canceled');
    await ctx.client.workflow.getHandle(holder).cancel();
    const s = await ctx.finished(next);
    expect(s).toMatchObject({ state: 'succeeded', result: { value: '3' } });
  });

  it('a review gate: a rejection fails the job, naming the review step', async () => {
    const jobId = await ctx.submit({ tool: 'slow_div', input: { x: 8, y: 4 }, review: { timeout: '1d' } });
    await eventually(async () => (await ctx.status(jobId)).state === 'awaiting_review');
    await ctx.client.workflow
      .getHandle(jobId)
      .executeUpdate(reviewUpdate, { args: [{ decision: 'reject', reviewer: 'rita', comment: 'no' }] });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ type: 'ReviewRejected', step: 'review', message: 'rejected by rita: no' });
    expect(s.steps.map((x) => [x.id, x.state])).toEqual([
      ['run', 'succeeded'],
      ['review', 'failed'],
    ]);
    expect(s.result?.value).toBe('2');
  });

  it('starts nothing for bad requests and reports each bad field', async () => {
    const err = await ctx
      .submit({ tool: 'slow_div', input: { x: 'eight', z: 1 }, notBefore: 'tomorrow', labels: { 'bad key': 'v' } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SubmitError);
    expect(err.status).toBe(422);
    const fields = err.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['/input/x', '/input/y', '/input/z', '/labels/bad key', '/notBefore'].sort());
    await expect(ctx.submit({ tool: 'nope', input: {} })).rejects.toMatchObject({ status: 400 });
    await expect(ctx.submit({ input: {} })).rejects.toMatchObject({ status: 400 });
    await expect(ctx.submit({ tool: 'slow_div', pipeline: 'fan', input: {} })).rejects.toMatchObject({ status: 400 });
  });

  it('returns the same job for the same idempotency key, and different jobs for other clients', async () => {
    const req = { tool: 'slow_div', input: { x: 6, y: 3 }, idempotencyKey: 'k-1' };
    const a = await ctx.submit(req);
    const b = await ctx.submit(req);
    expect(b).toBe(a);
    await ctx.finished(a);
    expect(await ctx.submit(req)).toBe(a); // also once finished
    // The same key for a different request is a conflict, not a silent reuse.
    await expect(ctx.submit({ ...req, input: { x: 6, y: 2 } })).rejects.toMatchObject({ status: 409 });
    // Key order and defaults filled in by the schema do not make a request different.
    expect(await ctx.submit({ idempotencyKey: 'k-1', input: { y: 3, x: 6, seconds: 0 }, tool: 'slow_div' })).toBe(a);
    const other = await ctx.submit(req, undefined, 'bob');
    expect(other).not.toBe(a);
    const runs = await ctx.client.workflow.count(`WorkflowId = '${a}'`);
    expect(runs.count).toBe(1);
  });

  it('records client, tool, state and labels as search attributes', async () => {
    const jobId = await ctx.submit(
      { tool: 'slow_div', input: { x: 1, y: 1 }, labels: { project: 'p1' } },
      undefined,
      'carol-sa',
    );
    await ctx.finished(jobId);
    const found: string[] = [];
    for await (const w of ctx.client.workflow.list({
      query: `LonghaulClient = 'carol-sa' AND LonghaulTool = 'slow_div' AND LonghaulState = 'succeeded' AND LonghaulLabels = 'project=p1'`,
    })) {
      found.push(w.workflowId);
    }
    expect(found).toEqual([jobId]);
  });
});
