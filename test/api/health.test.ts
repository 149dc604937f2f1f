// /healthz, /readyz (Temporal reachable, and not) and /metrics (Prometheus text, route patterns as labels).
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app';
import { createTokenStore } from '../../api/auth';
import { freePort } from '../helpers/server';
import { useApiContext } from '../helpers/api';

const ID = 'bkrt-vmqz-hdnf-sgxp-cwjt';

describe('health, readiness and metrics', () => {
  const ctx = useApiContext();

  it('/healthz answers without a token', async () => {
    const res = await request(ctx.app).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz is ready when Temporal answers', async () => {
    const res = await request(ctx.app).get('/readyz').expect(200);
    expect(res.body).toEqual({ status: 'ready', temporal: inject('temporalAddress') });
  });

  it('/readyz answers 503 within a few seconds when Temporal is unreachable', async () => {
    // Nothing listens on a port just freed; a lazy connection lets the app start anyway, as it would in production
    // when Temporal goes away after start-up.
    const address = `127.0.0.1:${await freePort()}`;
    const connection = Connection.lazy({ address });
    try {
      const app = createApp({
        config: ctx.jobs.config,
        client: new Client({ connection }),
        tokens: createTokenStore(ctx.jobs.config, {}),
        logger: pino({ level: 'silent' }),
      });
      const started = Date.now();
      const res = await request(app).get('/readyz').expect(503);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 503, title: 'Service Unavailable' });
      expect(res.body.detail).toContain(address);
      // Liveness does not depend on Temporal.
      await request(app).get('/healthz').expect(200);
    } finally {
      await connection.close();
    }
  });

  it('/metrics counts requests by route pattern, never by raw URL', async () => {
    await request(ctx.app).get('/v1/tools').set(ctx.auth('alice')).expect(200);
    await request(ctx.app).get('/v1/tools/no_such_tool').set(ctx.auth('alice')).expect(404);
    await request(ctx.app).get(`/v1/jobs/${ID}`).set(ctx.auth('alice')).expect(404);
    await request(ctx.app).get('/no/such/route').expect(404);
    const res = await request(ctx.app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toContain('# TYPE longhaul_http_requests_total counter');
    expect(text).toMatch(/longhaul_http_requests_total\{method="GET",route="\/v1\/tools",status="200"\} [1-9]/);
    // An error thrown inside the /v1 router still carries the full pattern.
    expect(text).toMatch(/longhaul_http_requests_total\{method="GET",route="\/v1\/tools\/:name",status="404"\} 1/);
    expect(text).toMatch(/longhaul_http_requests_total\{method="GET",route="\(unmatched\)",status="404"\} [1-9]/);
    expect(text).toContain('longhaul_http_request_duration_seconds_bucket{');
    expect(text).toContain('# TYPE longhaul_jobs_submitted_total counter');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).not.toContain(ID);
    expect(text).not.toContain('no_such_tool');
  });

  it('keeps metrics per app', async () => {
    const other = createApp({
      config: ctx.jobs.config,
      client: ctx.jobs.client,
      tokens: createTokenStore(ctx.jobs.config, {}),
      logger: pino({ level: 'silent' }),
    });
    const res = await request(other).get('/metrics').expect(200);
    expect(res.text).not.toMatch(/route="\/v1\/tools"/);
  });
});
