// GET /v1/tools and /v1/pipelines: names, descriptions and input schemas; never command lines or environment.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useApiContext } from '../helpers/api';

describe('catalog', () => {
  const ctx = useApiContext();

  it('lists the tools with their input schemas and nothing of how they run', async () => {
    const res = await request(ctx.app).get('/v1/tools').set(ctx.auth('alice')).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const names = res.body.items.map((t: { name: string }) => t.name);
    expect(names).toEqual([...ctx.jobs.config.tools.keys()]);
    const slowDiv = res.body.items.find((t: { name: string }) => t.name === 'slow_div');
    expect(slowDiv).toEqual({
      name: 'slow_div',
      kind: 'command',
      inputSchema: ctx.jobs.config.tools.get('slow_div')!.inputSchema,
      resources: {},
    });
    expect(slowDiv.inputSchema.required).toEqual(['x', 'y']);
    const exclusive = res.body.items.find((t: { name: string }) => t.name === 'slow_div_exclusive');
    expect(exclusive.resources).toEqual({ 'exclusive-slot': 1 });
    // seq_stats has an env var in config; slow_div a command line (`kind: "command"` is fine, a `command` key is not).
    for (const secret of [
      '"command":',
      'examples/tools',
      'SEQ_STATS_FAIL_IDS',
      'SEQ013',
      '"env"',
      'heartbeat',
      'retry',
    ]) {
      expect(res.text).not.toContain(secret);
    }
  });

  it('shows one tool, and 404 for an unknown one', async () => {
    const res = await request(ctx.app).get('/v1/tools/slow_div').set(ctx.auth('bob')).expect(200);
    expect(res.body.name).toBe('slow_div');
    expect(res.body).not.toHaveProperty('command');
    expect(res.text).not.toContain('examples/tools');
    const missing = await request(ctx.app).get('/v1/tools/nope').set(ctx.auth('bob')).expect(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.body).toMatchObject({ status: 404, title: 'Not Found', detail: 'no tool "nope"' });
  });

  it('lists the pipelines with their steps', async () => {
    const res = await request(ctx.app).get('/v1/pipelines').set(ctx.auth('alice')).expect(200);
    expect(res.body.items.map((p: { name: string }) => p.name)).toEqual([...ctx.jobs.config.pipelines.keys()]);
    const fan = res.body.items.find((p: { name: string }) => p.name === 'fan');
    expect(fan.inputSchema.required).toEqual(['ids']);
    expect(fan.steps).toEqual([
      { id: 'fetch', tool: 'fetch_seq', after: [] },
      {
        id: 'stats',
        tool: 'seq_stats',
        after: ['fetch'],
        forEach: { step: 'fetch', split: 'fasta', concurrency: 4, tolerate: { failures: 1 }, collect: 'json' },
      },
      { id: 'merge', tool: 'merge_stats', after: ['stats'] },
      { id: 'align', tool: 'align', after: ['fetch'] },
    ]);
    expect(res.text).not.toContain('"command":');
    expect(res.text).not.toContain('{input.');
  });

  it('shows one pipeline with its review step, and 404 for an unknown one', async () => {
    const res = await request(ctx.app).get('/v1/pipelines/divide_and_review').set(ctx.auth('alice')).expect(200);
    expect(res.body.steps[1]).toEqual({
      id: 'check',
      review: { message: 'Is this right?', timeout: '30d', default: 'approve' },
      after: ['divide'],
    });
    const missing = await request(ctx.app).get('/v1/pipelines/nope').set(ctx.auth('alice')).expect(404);
    expect(missing.body.detail).toBe('no pipeline "nope"');
  });

  it('needs a valid token', async () => {
    for (const url of ['/v1/tools', '/v1/tools/slow_div', '/v1/pipelines', '/v1/pipelines/fan']) {
      const res = await request(ctx.app).get(url).expect(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      await request(ctx.app).get(url).set('Authorization', 'Bearer not-a-valid-token-at-all').expect(401);
    }
  });
});
