// A job that is an HTTP request to the application (kind: http): marked with X-Via-JobQueue, success judged by
// the tool's status list, failures retried or not by status.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileInputSchema } from '../../config/input';
import { createJobsContext, type JobsContext } from '../helpers/jobs';

describe('http tool jobs', () => {
  let app: http.Server;
  let ctx: JobsContext;
  const seen: { url: string; via?: string; job?: string; body: string }[] = [];

  beforeAll(async () => {
    app = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({
          url: req.url!,
          via: req.headers['x-via-jobqueue'] as string,
          job: req.headers['x-longhaul-job'] as string,
          body,
        });
        if (req.url!.includes('missing')) return res.writeHead(404).end('no such thing');
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: true }));
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const port = (app.address() as AddressInfo).port;
    const schema = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } };
    ctx = await createJobsContext({
      configure: (c) => {
        c.tools.set('app_call', {
          inputSchema: schema,
          validateInput: compileInputSchema(schema),
          spec: {
            name: 'app_call',
            kind: 'http',
            http: { url: `http://127.0.0.1:${port}/work/{name}`, method: 'POST', successStatus: [200, 202] },
            timeout: '30s',
            heartbeat: '10s',
            retry: { maximumAttempts: 3, initialInterval: 100 },
          },
        });
      },
    });
  });

  afterAll(async () => {
    await ctx?.close();
    await new Promise<void>((r) => app.close(() => r()));
  });

  it('calls the application and keeps its answer', async () => {
    const jobId = await ctx.submit({ tool: 'app_call', input: { name: 'a b' } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    expect(s.result).toMatchObject({ status: 202, value: { accepted: true } });
    const req = seen.find((r) => r.job === jobId)!;
    expect(req).toMatchObject({ url: '/work/a%20b', via: 'yes' });
    expect(JSON.parse(req.body)).toEqual({ name: 'a b' });
  });

  it('fails at once on a 404 (no retry), with the status in the error', async () => {
    const jobId = await ctx.submit({ tool: 'app_call', input: { name: 'missing' } });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ type: 'HttpStatus', message: 'app_call: HTTP 404' });
    expect(seen.filter((r) => r.job === jobId)).toHaveLength(1);
  });
});
