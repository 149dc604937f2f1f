// The per-client rate limit: the token bucket on its own with a fake clock, then through the real API with a tiny
// limit (one client limited, the others not).
import express from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { rateLimit } from '../../api/rate-limit';
import { useApiContext } from '../helpers/api';

/** An app that authenticates whoever X-Client names, behind a limiter with a fake clock. */
function limitedApp(perMinute: number) {
  const clock = { t: 1_000_000 };
  const limiter = rateLimit(perMinute, { now: () => clock.t, sweepEveryMs: 60_000 });
  const app = express();
  app.use((req, _res, next) => {
    req.principal = { clientId: req.get('x-client') ?? 'anon', admin: false };
    next();
  });
  app.use(limiter);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  const get = (client: string) => supertest(app).get('/').set('X-Client', client);
  return { clock, limiter, get };
}

describe('rate limit (token bucket)', () => {
  it('allows a burst of perMinute, then refills at perMinute/60 per second', async () => {
    const { clock, get } = limitedApp(6); // one token every 10 s
    for (let i = 0; i < 6; i++) {
      const r = await get('alice');
      expect(r.status).toBe(200);
      expect(r.headers['ratelimit-limit']).toBe('6');
      expect(r.headers['ratelimit-remaining']).toBe(String(5 - i));
    }
    const limited = await get('alice');
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
    // Another client has its own bucket.
    expect((await get('bob')).status).toBe(200);

    clock.t += 4_000;
    expect((await get('alice')).headers['retry-after']).toBe('6'); // whole seconds, rounded up
    clock.t += 6_000;
    expect((await get('alice')).status).toBe(200);
    expect((await get('alice')).status).toBe(429);
    clock.t += 9_999;
    const almost = await get('alice');
    expect(almost.status).toBe(429);
    expect(almost.headers['retry-after']).toBe('1'); // never 0
  });

  it('drops idle buckets, so memory stays bounded by the active clients', async () => {
    const { clock, limiter, get } = limitedApp(60);
    for (let i = 0; i < 50; i++) await get(`client${i}`);
    expect(limiter.size).toBe(50);
    clock.t += 30_000;
    await get('client0');
    expect(limiter.size).toBe(50); // no sweep yet
    clock.t += 31_000; // a minute since the last sweep: every bucket but client0's has refilled completely
    await get('late');
    expect(limiter.size).toBeLessThanOrEqual(2);
  });

  it('a limit of 0 turns limiting off', async () => {
    const app = express();
    app.use(rateLimit(0));
    app.get('/', (_req, res) => {
      res.json({});
    });
    for (let i = 0; i < 5; i++) expect((await supertest(app).get('/')).status).toBe(200);
  });
});

describe('rate limit (API)', () => {
  const ctx = useApiContext({ options: { rateLimitPerMinute: 3, reviewLinksPerMinute: 2 } });

  it('answers 429 with Retry-After once a client is over its limit; other clients are unaffected', async () => {
    const list = (who: 'alice' | 'bob') => fetch(`${ctx.baseUrl}/v1/jobs`, { headers: ctx.auth(who) });
    for (let i = 0; i < 3; i++) expect((await list('alice')).status).toBe(200);
    const r = await list('alice');
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(r.headers.get('ratelimit-remaining')).toBe('0');
    expect(await r.json()).toMatchObject({ status: 429, detail: expect.stringContaining('3 requests per minute') });

    const b = await list('bob');
    expect(b.status).toBe(200);
    expect(b.headers.get('ratelimit-limit')).toBe('3');
    // Unauthenticated requests are refused before they count.
    expect((await fetch(`${ctx.baseUrl}/v1/jobs`)).status).toBe(401);
  });

  it('limits review-link requests per address, whatever the token', async () => {
    const link = (t: string) => fetch(`${ctx.baseUrl}/v1/reviews/${t}`);
    expect((await link('aaaa.bbbb')).status).toBe(400);
    expect((await link('cccc.dddd')).status).toBe(400);
    const r = await link('eeee.ffff');
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
