import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../activities/deps';
import { createHttpCall } from '../../activities/http-call';
import type { HttpCallRequest, ToolSpec } from '../../workflows/types';
import { activityEnv, failure, runActivity as run } from '../helpers/activities';

let dataDir: string;
let base: string;
let server: http.Server;
const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

// Routes: /echo… answers with what it received; /status/<code> answers with that status; /text/<bytes> and
// /json/<bytes> send bodies of that size; /drip sends headers and then a byte now and then; /hang never answers.
function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const url = new URL(req.url!, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] === 'echo') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ method: req.method, url: req.url, body }));
  } else if (parts[0] === 'status') {
    res.writeHead(Number(parts[1]), { 'content-type': 'text/plain' });
    res.end(`status ${parts[1]} body`);
  } else if (parts[0] === 'text') {
    const n = Number(parts[1]);
    res.writeHead(200, { 'content-type': 'text/plain' });
    // Numbered lines, so a tail can be checked.
    let out = '';
    for (let i = 0; out.length < n; i++) out += `line ${i}\n`;
    res.end(out.slice(0, n));
  } else if (parts[0] === 'json') {
    const n = Number(parts[1]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ pad: 'x'.repeat(Math.max(0, n - 10)) }));
  } else if (parts[0] === 'drip') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write('.'), 50);
    res.on('close', () => clearInterval(timer));
  } else if (parts[0] === 'hang') {
    // never answers
  } else {
    res.writeHead(404).end();
  }
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-http-'));
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      handle(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function deps(): ActivityDeps {
  return { dataDir, secret: 's', publicUrl: 'http://localhost' };
}

const env = (info: Record<string, unknown> = {}) => activityEnv({ startToCloseTimeoutMs: 30_000, ...info });

function tool(http: ToolSpec['http'], name = 'api'): ToolSpec {
  return { name, kind: 'http', timeout: '30s', heartbeat: '10s', retry: {}, http };
}

let n = 0;
function request(
  t: ToolSpec,
  input: Record<string, unknown> = {},
  over: Partial<HttpCallRequest> = {},
): HttpCallRequest {
  return { jobId: 'job-h', stepId: `s${++n}`, tool: t, input, ...over };
}

function lastSeen() {
  return seen[seen.length - 1];
}

describe('httpCall', () => {
  it('fills placeholders, adds the job headers and keeps the response', async () => {
    const t = tool({
      url: `${base}/echo/{name}?q={q.inner}&n={n}`,
      headers: { Authorization: 'Bearer {token}', 'X-Obj': '{q}' },
    });
    const req = request(t, { name: 'a b/c?', q: { inner: 'x&y=z' }, n: 5, token: 'tok' });
    const result = await run(env(), createHttpCall(deps()), req);

    const got = lastSeen();
    expect(got.method).toBe('GET');
    expect(got.url).toBe('/echo/a%20b%2Fc%3F?q=x%26y%3Dz&n=5');
    expect(got.headers['x-via-jobqueue']).toBe('yes');
    expect(got.headers['x-longhaul-job']).toBe('job-h');
    expect(got.headers.authorization).toBe('Bearer tok');
    expect(got.headers['x-obj']).toBe('{"inner":"x&y=z"}');
    expect(got.body).toBe('');

    const dir = path.join(dataDir, 'jobs', 'job-h', 'steps', req.stepId);
    const body = fs.readFileSync(path.join(dir, 'response.body'), 'utf8');
    expect(JSON.parse(body)).toEqual({ method: 'GET', url: got.url, body: '' });
    expect(fs.readFileSync(path.join(dir, 'stdout.log'), 'utf8')).toBe(body);
    expect(result).toEqual({
      status: 200,
      stdoutFile: `job-h/steps/${req.stepId}/stdout.log`,
      stdoutBytes: Buffer.byteLength(body),
      stdoutTail: body,
      value: { method: 'GET', url: got.url, body: '' },
      durationMs: expect.any(Number),
    });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8'))).toEqual(result);
  });

  it('uses the item directory of a fan-out item', async () => {
    const req = request(tool({ url: `${base}/text/10` }), {}, { item: 3 });
    const result = await run(env(), createHttpCall(deps()), req);
    expect(result.stdoutFile).toBe(`job-h/steps/${req.stepId}/items/3/stdout.log`);
    expect(fs.existsSync(path.join(dataDir, 'jobs', result.stdoutFile!))).toBe(true);
    expect(result.value).toBe('line 0\nlin');
  });

  it('sends the input as JSON when a method with a body has no body template', async () => {
    const input = { sample: 'S1', reads: [1, 2] };
    const result = await run(
      env(),
      createHttpCall(deps()),
      request(tool({ url: `${base}/echo`, method: 'post' }), input),
    );
    const got = lastSeen();
    expect(got.method).toBe('POST');
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.body)).toEqual(input);
    expect((result.value as any).body).toBe(JSON.stringify(input));
  });

  it('fills a body template by raw substitution', async () => {
    const t = tool({
      url: `${base}/echo`,
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '{"name": "{name}", "opts": {opts}, "n": {n}}',
    });
    await run(env(), createHttpCall(deps()), request(t, { name: 'x', opts: { a: [1] }, n: 2 }));
    expect(lastSeen().headers['content-type']).toBe('application/json');
    expect(JSON.parse(lastSeen().body)).toEqual({ name: 'x', opts: { a: [1] }, n: 2 });
  });

  it('fails non-retryably on a missing field, before sending anything', async () => {
    const before = seen.length;
    const err = await failure(
      run(env(), createHttpCall(deps()), request(tool({ url: `${base}/echo/{a.b}` }), { a: { c: 1 } })),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('BadInput');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('a.b');
    expect(seen.length).toBe(before);
  });

  it('refuses requests fetch would reject, instead of retrying them', async () => {
    const getWithBody = tool({ url: `${base}/echo`, body: 'x' });
    const err = await failure(run(env(), createHttpCall(deps()), request(getWithBody)));
    expect(err.type).toBe('BadInput');
    const badHeader = tool({ url: `${base}/echo`, headers: { 'X-A': '{v}' } });
    const err2 = await failure(run(env(), createHttpCall(deps()), request(badHeader, { v: 'a\r\nX-Evil: 1' })));
    expect(err2.type).toBe('BadInput');
    expect(err2.nonRetryable).toBe(true);
  });

  it('copes with a start-to-close timeout longer than a Node timer can wait', async () => {
    const result = await run(
      env({ startToCloseTimeoutMs: 30 * 24 * 3600_000 }),
      createHttpCall(deps()),
      request(tool({ url: `${base}/text/10` })),
    );
    expect(result.status).toBe(200);
  });

  it('refuses URLs that are not http(s)', async () => {
    const err = await failure(
      run(env(), createHttpCall(deps()), request(tool({ url: 'file:///etc/{f}' }), { f: 'passwd' })),
    );
    expect(err.type).toBe('BadInput');
    expect(err.nonRetryable).toBe(true);
  });

  it('classifies statuses outside successStatus', async () => {
    for (const code of [500, 502, 429, 408, 404, 400]) {
      const err = await failure(run(env(), createHttpCall(deps()), request(tool({ url: `${base}/status/${code}` }))));
      expect(err, String(code)).toBeInstanceOf(ApplicationFailure);
      expect(err.type).toBe('HttpStatus');
      expect(err.message).toBe(`api: HTTP ${code}`);
      expect(err.nonRetryable, String(code)).toBe(code === 404 || code === 400);
      expect(err.details).toEqual([{ status: code, bodyTail: `status ${code} body` }]);
    }
    const ok = await run(
      env(),
      createHttpCall(deps()),
      request(tool({ url: `${base}/status/404`, successStatus: [404] })),
    );
    expect(ok.status).toBe(404);
    const notOk = await failure(
      run(env(), createHttpCall(deps()), request(tool({ url: `${base}/status/200`, successStatus: [201] }))),
    );
    expect(notOk.type).toBe('HttpStatus');
    expect(notOk.nonRetryable).toBe(true);
  });

  it('keeps the value small: JSON up to 64 KiB, text up to 4 KiB, and a 4 KiB tail', async () => {
    const call = createHttpCall(deps());
    const json = await run(env(), call, request(tool({ url: `${base}/json/60000` })));
    expect((json.value as any).pad).toHaveLength(59990);
    const bigJson = await run(env(), call, request(tool({ url: `${base}/json/70000` })));
    expect(bigJson.value).toBeUndefined();
    expect(bigJson.stdoutBytes).toBe(70000);
    expect(bigJson.stdoutTail).toHaveLength(4096);

    const text = await run(env(), call, request(tool({ url: `${base}/text/4096` })));
    expect(typeof text.value).toBe('string');
    const big = await run(env(), call, request(tool({ url: `${base}/text/200000` })));
    expect(big.value).toBeUndefined();
    const file = fs.readFileSync(path.join(dataDir, 'jobs', big.stdoutFile!), 'utf8');
    expect(file).toHaveLength(200000);
    expect(big.stdoutTail).toBe(file.slice(-4096));
  });

  it('fails non-retryably when the body is too large', async () => {
    const req = request(tool({ url: `${base}/text/100000` }));
    const err = await failure(run(env(), createHttpCall(deps(), { maxBodyBytes: 50_000 }), req));
    expect(err.type).toBe('OutputTooLarge');
    expect(err.nonRetryable).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'jobs', 'job-h', 'steps', req.stepId, 'response.body'))).toBe(false);
  });

  it('is cancelled while waiting for a response, heartbeating meanwhile', async () => {
    for (const route of ['hang', 'drip']) {
      const e = env({ heartbeatTimeoutMs: 300 });
      let beats = 0;
      e.on('heartbeat', () => beats++);
      const before = seen.length;
      const p = failure(run(e, createHttpCall(deps()), request(tool({ url: `${base}/${route}` }))));
      while (seen.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 400));
      const started = Date.now();
      e.cancel();
      const err = await p;
      expect(err, route).toBeInstanceOf(CancelledFailure);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(beats, route).toBeGreaterThanOrEqual(2);
    }
  });

  it('gives up at the start-to-close timeout, retryably', async () => {
    const err = await failure(
      run(env({ startToCloseTimeoutMs: 300 }), createHttpCall(deps()), request(tool({ url: `${base}/drip` }))),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('Timeout');
    expect(err.nonRetryable).toBe(false);
  });

  it('treats connection failures as retryable', async () => {
    const s = http.createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const err = await failure(run(env(), createHttpCall(deps()), request(tool({ url: `http://127.0.0.1:${port}/` }))));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.nonRetryable).toBe(false);
  });
});
