// `npm run api`: the HTTP API on PORT (default 8080), talking to TEMPORAL_ADDRESS. Without any configured token it
// makes a development token for client "dev" and prints it, so a fresh `npm start` is usable at once.
import type { Connection } from '@temporalio/client';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config/load';
import { readOrCreateSecret } from '../config/secret-file';
import { connectClient } from '../jobs/connection';
import { ensureSearchAttributes } from '../jobs/search-attributes';
import { createApp } from './app';
import { createTokenStore, newToken } from './auth';

export async function runApi(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logger = pino({ level: env.LONGHAUL_LOG_LEVEL || 'info' });
  const config = loadConfig({ env });
  let tokens = createTokenStore(config, env);
  if (tokens.size === 0) {
    const token = devToken(config.dataDir);
    tokens = createTokenStore(config, { ...env, LONGHAUL_TOKENS: `dev:${token}:admin` });
    process.stdout.write(`development token (client "dev", admin): ${token}\n`);
  }
  const client = await connectClient(config.temporalAddress, config.namespace);
  await ensureSearchAttributes(client.connection as Connection, config.namespace);
  const app = createApp({ config, client, tokens, logger });
  const port = Number(env.PORT || 8080);
  const host = env.LONGHAUL_API_HOST || '127.0.0.1';
  const server = app.listen(port, host, () => {
    process.stdout.write(`HTTP API         http://${host}:${port}/v1\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    // Open event streams would hold close() forever.
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** The development token, kept in the data directory so it survives restarts. */
function devToken(dataDir: string): string {
  return readOrCreateSecret(path.join(dataDir, 'dev-token'), newToken);
}

if (require.main === module) {
  runApi().catch((err) => {
    process.stderr.write(`longhaul api: ${err?.message ?? err}\n`);
    process.exit(1);
  });
}
