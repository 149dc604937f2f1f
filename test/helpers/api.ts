// Per-file context for API tests: a jobs context (real worker, real longhaul-server) plus the express app with
// three clients — alice, bob and an admin — listening on a real port for streaming tests.
import type { Express } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../api/app';
import { createTokenStore } from '../../api/auth';
import type { ApiOptions } from '../../api/deps';
import type { LongHaulConfig } from '../../config/load';
import { createJobsContext, type JobsContext } from './jobs';

export const TOKENS = {
  alice: 'alice-token-0123456789abcdef',
  bob: 'bob-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
} as const;

export interface ApiContext {
  jobs: JobsContext;
  app: Express;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** The Authorization header for one of the clients. */
  auth(who: keyof typeof TOKENS): { Authorization: string };
}

export function useApiContext(
  opts: { options?: ApiOptions; configure?: (c: LongHaulConfig) => void } = {},
): ApiContext {
  const ctx = {} as ApiContext;
  let server: Server | undefined;
  beforeAll(async () => {
    const jobs = await createJobsContext({ configure: opts.configure });
    const tokens = createTokenStore(jobs.config, {
      LONGHAUL_TOKENS: `alice:${TOKENS.alice},bob:${TOKENS.bob},ops:${TOKENS.admin}:admin`,
    });
    const app = createApp({
      config: jobs.config,
      client: jobs.client,
      tokens,
      logger: pino({ level: 'silent' }),
      options: { pollMs: 100, ...opts.options },
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    Object.assign(ctx, {
      jobs,
      app,
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      auth: (who: keyof typeof TOKENS) => ({ Authorization: `Bearer ${TOKENS[who]}` }),
    });
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await ctx.jobs?.close();
  });
  return ctx;
}
