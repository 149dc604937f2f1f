// Placeholder until health, readiness and metrics are written.
import { Router } from 'express';
import type { ApiDeps } from './deps';

export function healthRoutes(_deps: ApiDeps): Router {
  return Router();
}
