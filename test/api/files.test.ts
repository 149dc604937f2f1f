// Logs and artifacts over HTTP against a real worker: plain and followed logs, the artifact list of a pipeline,
// downloads with Range, and everything that must not get out of the job's directory.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApiContext } from '../helpers/api';

const ctx = useApiContext();

const get = (p: string, who: 'alice' | 'bob' | 'admin' = 'alice', headers: Record<string, string> = {}) =>
  fetch(`${ctx.baseUrl}${p}`, { headers: { ...ctx.auth(who), ...headers } });

/** A request with a path sent exactly as written (fetch would normalise `..`). */
function rawGet(p: string): Promise<{ status: number; body: string }> {
  const url = new URL(ctx.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: p, headers: ctx.auth('alice') }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function expectProblem(res: Response, status: number): Promise<Record<string, any>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as Record<string, any>;
}

describe('GET /v1/jobs/:id/logs', () => {
  let ok: string;
  let zero: string;
  beforeAll(async () => {
    ok = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 2 } });
    zero = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 0 } });
    await Promise.all([ctx.jobs.finished(ok), ctx.jobs.finished(zero)]);
  });

  it('serves stdout and stderr as UTF-8 text', async () => {
    const res = await get(`/v1/jobs/${ok}/logs?stream=stdout`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toContain('The answer is: 4');
    // stdout is the default stream
    expect(await (await get(`/v1/jobs/${ok}/logs`)).text()).toContain('The answer is: 4');

    const err = await get(`/v1/jobs/${zero}/logs?stream=stderr`);
    expect(err.status).toBe(200);
    expect(await err.text()).toContain('division by zero');
    expect(await (await get(`/v1/jobs/${ok}/logs?stream=stdout&step=run`)).text()).toContain('The answer is: 4');
  });

  it('refuses bad parameters and hides other clients’ jobs', async () => {
    expect((await expectProblem(await get(`/v1/jobs/${ok}/logs?stream=stdin`), 400)).detail).toMatch(/stream/);
    await expectProblem(await get(`/v1/jobs/${ok}/logs?stream=stdout&stream=stderr`), 400);
    await expectProblem(await get(`/v1/jobs/${ok}/logs?item=-1`), 400);
    await expectProblem(await get(`/v1/jobs/${ok}/logs?follow=maybe`), 400);
    await expectProblem(await get(`/v1/jobs/${ok}/logs?step=nope`), 404);
    await expectProblem(await get(`/v1/jobs/${ok}/logs?item=3`), 404);
    await expectProblem(await get(`/v1/jobs/${ok}/logs`, 'bob'), 404);
    expect((await get(`/v1/jobs/${ok}/logs`, 'admin')).status).toBe(200);
  });

  it('answers 404 while there is no log yet', async () => {
    const later = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 1, y: 1 }, notBefore: '1d' });
    expect((await expectProblem(await get(`/v1/jobs/${later}/logs`), 404)).detail).toMatch(/no stdout log/);
  });

  it('follows a growing log until the job is done', async () => {
    const jobId = await ctx.jobs.submit({ tool: 'slow_div', input: { x: 8, y: 2, seconds: 2 } });
    const started = Date.now();
    const res = await get(`/v1/jobs/${jobId}/logs?stream=stderr&follow=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    // Chunks arrive while the job runs, not all at the end.
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const chunks: { at: number; text: string }[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push({ at: Date.now(), text: decoder.decode(value, { stream: true }) });
    }
    const text = chunks.map((c) => c.text).join('');
    for (let p = 10; p <= 100; p += 10) expect(text).toContain(`progress: ${p}%`);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks[0].at - started).toBeLessThan(1500);
    expect((await ctx.jobs.status(jobId)).state).toBe('succeeded');
  });

  it('follows pipeline steps; the default step is the last one that wrote a log', async () => {
    const jobId = await ctx.jobs.submit({ pipeline: 'fetch_align', input: { ids: ['SEQ001', 'SEQ002'] } });
    const followed = await (await get(`/v1/jobs/${jobId}/logs?follow=1`)).text();
    // Before anything ran the default is the first step; following it ends when that step is done.
    expect(followed).toMatch(/^>SEQ001/);
    await ctx.jobs.finished(jobId);
    const fetchLog = await (await get(`/v1/jobs/${jobId}/logs?step=fetch`)).text();
    expect(fetchLog).toMatch(/^>SEQ001/);
    const alignLog = await (await get(`/v1/jobs/${jobId}/logs`)).text();
    expect(alignLog.trim().split('\n')).toHaveLength(2);
    expect(alignLog).not.toContain('>');
    // A finished log is sent whole, at once.
    expect(await (await get(`/v1/jobs/${jobId}/logs?step=align&follow=1`)).text()).toBe(alignLog);
  });
});

describe('artifacts', () => {
  let jobId: string;
  let stepsDir: string;
  beforeAll(async () => {
    jobId = await ctx.jobs.submit({ pipeline: 'fetch_align', input: { ids: ['SEQ001', 'SEQ002', 'SEQ003'] } });
    expect((await ctx.jobs.finished(jobId)).state).toBe('succeeded');
    stepsDir = path.join(ctx.jobs.dataDir, 'jobs', jobId, 'steps');
  });

  it('lists the logs of a pipeline’s steps', async () => {
    const res = await get(`/v1/jobs/${jobId}/artifacts`);
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Record<string, any>[] };
    const names = items.map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(['fetch/stdout.log', 'fetch/stderr.log', 'align/stdout.log']));
    const fetchOut = items.find((i) => i.name === 'fetch/stdout.log')!;
    expect(fetchOut).toEqual({
      name: 'fetch/stdout.log',
      step: 'fetch',
      size: fs.statSync(path.join(stepsDir, 'fetch', 'stdout.log')).size,
      modified: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      href: `/v1/jobs/${jobId}/artifacts/fetch/stdout.log`,
    });
    // Internal files (result.json, .pid) are not listed.
    expect(names.every((n) => n.endsWith('.log'))).toBe(true);
    await expectProblem(await get(`/v1/jobs/${jobId}/artifacts`, 'bob'), 404);
  });

  it('lists the files a step kept (a fan-out’s collected results)', async () => {
    const fan = await ctx.jobs.submit({ pipeline: 'fan', input: { ids: ['SEQ001', 'SEQ002'], delayMs: 0 } });
    expect((await ctx.jobs.finished(fan)).state).toBe('succeeded');
    const { items } = (await (await get(`/v1/jobs/${fan}/artifacts`)).json()) as { items: Record<string, any>[] };
    const results = items.find((i) => i.name === 'stats/results.json');
    expect(results).toMatchObject({ step: 'stats', href: `/v1/jobs/${fan}/artifacts/stats/results.json` });
    const dl = await get(results!.href);
    expect(dl.headers.get('content-type')).toMatch(/^application\/json/);
    expect(dl.headers.get('content-disposition')).toBeNull();
    expect(JSON.parse(await dl.text())).toHaveLength(2);
    // Items' own logs are not listed, but can be fetched by name.
    expect(items.some((i) => i.name.includes('/items/'))).toBe(false);
    expect((await get(`/v1/jobs/${fan}/artifacts/stats/items/0/stdout.log`)).status).toBe(200);
  });

  it('downloads a log, with Range support', async () => {
    const href = `/v1/jobs/${jobId}/artifacts/align/stdout.log`;
    const onDisk = fs.readFileSync(path.join(stepsDir, 'align', 'stdout.log'));
    const full = await get(href);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await full.arrayBuffer())).toEqual(onDisk);

    const part = await get(href, 'alice', { Range: 'bytes=0-9' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-9/${onDisk.length}`);
    const bytes = Buffer.from(await part.arrayBuffer());
    expect(bytes).toHaveLength(10);
    expect(bytes).toEqual(onDisk.subarray(0, 10));

    const tail = await get(href, 'alice', { Range: 'bytes=-5' });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(onDisk.subarray(onDisk.length - 5));

    const beyond = await get(href, 'alice', { Range: 'bytes=100000-200000' });
    const problem = await expectProblem(beyond, 416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${onDisk.length}`);
    expect(problem.status).toBe(416);
  });

  it('serves unknown types as attachments', async () => {
    fs.writeFileSync(path.join(stepsDir, 'align', 'aligned.bin'), Buffer.from([0, 1, 2, 3]));
    fs.writeFileSync(path.join(stepsDir, 'align', 'report.html'), '<script>alert(1)</script>');
    const bin = await get(`/v1/jobs/${jobId}/artifacts/align/aligned.bin`);
    expect(bin.status).toBe(200);
    expect(bin.headers.get('content-type')).toBe('application/octet-stream');
    expect(bin.headers.get('content-disposition')).toMatch(/^attachment; filename="?aligned\.bin"?$/);
    const html = await get(`/v1/jobs/${jobId}/artifacts/align/report.html`);
    expect(html.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(html.headers.get('content-security-policy')).toContain('sandbox');
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('never serves anything outside the job’s steps directory', async () => {
    fs.writeFileSync(path.join(ctx.jobs.dataDir, 'secret'), 'top secret\n');
    fs.writeFileSync(path.join(stepsDir, '..', 'outside.txt'), 'not an artifact\n');
    fs.symlinkSync(path.join(ctx.jobs.dataDir, 'secret'), path.join(stepsDir, 'align', 'link.txt'));
    fs.writeFileSync(path.join(stepsDir, 'align', '.hidden'), 'dotfile\n');
    const base = `/v1/jobs/${jobId}/artifacts`;
    for (const p of [
      `${base}/..%2F..%2F..%2Fsecret`,
      `${base}/align%2Fstdout.log`,
      `${base}/align/..%2F..%2Foutside.txt`,
      `${base}/align/%2E%2E/%2E%2E/outside.txt`,
      `${base}/align//stdout.log`,
      `${base}/align/stdout.log%00.txt`,
      `${base}/align%5C..%5C..%5Coutside.txt`,
    ]) {
      const res = await get(p);
      expect([400, 404], p).toContain(res.status);
      expect(await res.text(), p).not.toMatch(/top secret|not an artifact/);
    }
    for (const p of [`${base}/../outside.txt`, `${base}/align/../../outside.txt`, `${base}/../../../secret`]) {
      const res = await rawGet(p);
      expect([400, 404], p).toContain(res.status);
      expect(res.body, p).not.toMatch(/top secret|not an artifact/);
    }
    // A symlink out of the directory, a dotfile, a directory, an unknown name: all unknown.
    for (const name of ['align/link.txt', 'align/.hidden', 'align', 'align/nope.txt', 'nope/stdout.log']) {
      const res = await get(`${base}/${name}`);
      expect((await expectProblem(res, 404)).detail, name).toMatch(/no artifact/);
    }
    // A log a tool replaced by a symlink is not served either, and neither is listed.
    fs.rmSync(path.join(stepsDir, 'fetch', 'stderr.log'));
    fs.symlinkSync(path.join(ctx.jobs.dataDir, 'secret'), path.join(stepsDir, 'fetch', 'stderr.log'));
    for (const p of [`/v1/jobs/${jobId}/logs?step=fetch&stream=stderr`, `${base}/fetch/stderr.log`]) {
      expect(await (await expectProblem(await get(p), 404)).detail, p).not.toMatch(/secret/);
    }
    const followed = await get(`/v1/jobs/${jobId}/logs?step=fetch&stream=stderr&follow=1`);
    expect(await followed.text()).toBe('');
    const { items } = (await (await get(base)).json()) as { items: { name: string }[] };
    expect(items.map((i) => i.name)).not.toContain('align/link.txt');
    expect(items.map((i) => i.name)).not.toContain('fetch/stderr.log');
  });

  it('hides another client’s artifacts', async () => {
    await expectProblem(await get(`/v1/jobs/${jobId}/artifacts/align/stdout.log`, 'bob'), 404);
    expect((await get(`/v1/jobs/${jobId}/artifacts/align/stdout.log`, 'admin')).status).toBe(200);
  });
});
