// Placeholder until this route family is written.
import { Router } from 'express';
import type { ApiDeps } from '../deps';

export function filesRoutes(_deps: ApiDeps): Router {
  return Router();
}
