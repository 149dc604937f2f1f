// What the HTTP API needs: config (tools, pipelines, data directory, secret), a Temporal client, the token store
// and a logger; plus knobs that tests shorten.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { LongHaulConfig } from '../config/load';
import type { TokenStore } from './auth';

export interface ApiOptions {
  /** Requests per minute per client (config api.rateLimitPerMinute, default 600). */
  rateLimitPerMinute?: number;
  /** Requests per minute per remote address to the signed review links (default 60). */
  reviewLinksPerMinute?: number;
  /** Largest accepted JSON body in bytes (config api.maxBodyBytes, default 1 MiB). */
  maxBodyBytes?: number;
  /** How often live streams (SSE events, followed logs) look for changes, in ms (default 500). */
  pollMs?: number;
}

export interface ApiDeps {
  config: LongHaulConfig;
  client: Client;
  tokens: TokenStore;
  logger: Logger;
  options?: ApiOptions;
}
