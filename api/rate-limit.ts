// Per-client rate limit: a token bucket per authenticated client id, in memory (one API process). A bucket holds
// up to `perMinute` requests and refills at perMinute/60 per second, so a client may burst a minute's allowance
// and then goes at the steady rate. An empty bucket answers 429 with Retry-After.
import type { RequestHandler } from 'express';
import { sendProblem } from './problem';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export interface RateLimitOptions {
  /** The clock, in ms (tests). */
  now?: () => number;
  /** How often idle buckets are dropped, in ms (default 60 s). */
  sweepEveryMs?: number;
}

/** The middleware, and how many buckets it holds (for tests). */
export type RateLimiter = RequestHandler & { readonly size: number };

export function rateLimit(perMinute: number, opts: RateLimitOptions = {}): RateLimiter {
  // 0, a negative or a non-number limit turns limiting off rather than locking everyone out.
  if (!Number.isFinite(perMinute) || perMinute <= 0) {
    return Object.defineProperty<RequestHandler>((_req, _res, next) => next(), 'size', { value: 0 }) as RateLimiter;
  }
  const now = opts.now ?? Date.now;
  const sweepEveryMs = opts.sweepEveryMs ?? 60_000;
  const capacity = perMinute;
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  const refill = (b: Bucket, t: number) => {
    b.tokens = Math.min(capacity, b.tokens + Math.max(0, t - b.at) * perMs);
    b.at = t;
  };

  const handler: RequestHandler = (req, res, next) => {
    const t = now();
    // A bucket that has refilled completely carries no information: dropping it keeps memory bounded by the
    // clients active within the last minute or so.
    if (t - lastSweep >= sweepEveryMs) {
      lastSweep = t;
      for (const [key, b] of buckets) {
        refill(b, t);
        if (b.tokens >= capacity) buckets.delete(key);
      }
    }
    const key = req.principal ? `client:${req.principal.clientId}` : `ip:${req.ip ?? ''}`;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { tokens: capacity, at: t }));
    else refill(b, t);

    res.setHeader('RateLimit-Limit', String(capacity));
    if (b.tokens >= 1) {
      b.tokens -= 1;
      res.setHeader('RateLimit-Remaining', String(Math.floor(b.tokens)));
      return next();
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
    res.setHeader('RateLimit-Remaining', '0');
    sendProblem(res, 429, `more than ${capacity} requests per minute; retry in ${retryAfter} s`, {
      headers: { 'Retry-After': String(retryAfter) },
    });
  };
  return Object.defineProperty(handler, 'size', { get: () => buckets.size }) as RateLimiter;
}
