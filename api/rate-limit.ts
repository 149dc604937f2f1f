// Placeholder until rate limiting is written.
import type { RequestHandler } from 'express';

export function rateLimit(_perMinute: number): RequestHandler {
  return (_req, _res, next) => next();
}
