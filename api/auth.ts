// Bearer-token authentication. Tokens come from LONGHAUL_TOKENS ("alice:TOKEN1,bob:TOKEN2,ops:TOKEN3:admin") or
// from the config's `clients` (stored as SHA-256). Only hashes are kept in memory, and every lookup compares
// against every known hash in constant time, so neither timing nor an early exit tells a token's neighbours.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { LongHaulConfig } from '../config/load';
import { NAME_PATTERN } from '../config/names';
import { sendProblem } from './problem';

export interface Principal {
  clientId: string;
  admin: boolean;
}

export interface TokenStore {
  authenticate(token: string): Principal | undefined;
  readonly size: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits), prefixed so it is recognisable in logs and secret scanners. */
export function newToken(): string {
  return `lh_${randomBytes(32).toString('base64url')}`;
}

export function parseTokensEnv(value: string | undefined): { clientId: string; token: string; admin: boolean }[] {
  if (!value?.trim()) return [];
  return value.split(',').map((entry) => {
    const parts = entry.trim().split(':');
    const [clientId, token, role] = parts;
    if (parts.length < 2 || parts.length > 3 || !clientId || !token || (role !== undefined && role !== 'admin')) {
      throw new Error(
        `LONGHAUL_TOKENS: expected CLIENT:TOKEN[:admin], got ${JSON.stringify(entry.trim().slice(0, 40))}`,
      );
    }
    if (!NAME_PATTERN.test(clientId)) throw new Error(`LONGHAUL_TOKENS: invalid client id ${clientId}`);
    if (token.length < 16) throw new Error(`LONGHAUL_TOKENS: the token of ${clientId} is shorter than 16 characters`);
    return { clientId, token, admin: role === 'admin' };
  });
}

export function createTokenStore(
  config: Pick<LongHaulConfig, 'raw'>,
  env: NodeJS.ProcessEnv = process.env,
): TokenStore {
  const entries: { hash: Buffer; principal: Principal }[] = [];
  for (const t of parseTokensEnv(env.LONGHAUL_TOKENS)) {
    entries.push({ hash: Buffer.from(hashToken(t.token), 'hex'), principal: { clientId: t.clientId, admin: t.admin } });
  }
  for (const [clientId, c] of Object.entries(config.raw.clients ?? {})) {
    entries.push({ hash: Buffer.from(c.tokenSha256, 'hex'), principal: { clientId, admin: c.admin ?? false } });
  }
  return {
    size: entries.length,
    authenticate(token) {
      const h = Buffer.from(hashToken(token), 'hex');
      let found: Principal | undefined;
      for (const e of entries) if (timingSafeEqual(e.hash, h) && !found) found = e.principal;
      return found;
    },
  };
}

export function requireAuth(tokens: TokenStore): RequestHandler {
  return (req, res, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    const principal = m ? tokens.authenticate(m[1]) : undefined;
    if (!principal) {
      return sendProblem(res, 401, m ? 'the bearer token is not valid' : 'send Authorization: Bearer TOKEN', {
        headers: { 'WWW-Authenticate': 'Bearer realm="longhaul"' },
      });
    }
    req.principal = principal;
    next();
  };
}
