// Signed, expiring review links, so a reviewer can approve or reject from an email without an account, and the
// HMAC signature of webhook bodies.
//
// A review token is `base64url(JSON claims) + '.' + base64url(HMAC-SHA256(secret, first part))`. It names the job,
// the review step and the decision, and expires. Tokens are not single-use by themselves: the workflow accepts a
// decision only for the review step it is currently awaiting (ReviewDecision.stepId), so once a decision is taken
// every other link for that step — including the opposite decision — is inert, and a link cannot leak into a later
// review of the same job.
import crypto from 'node:crypto';
import type { Decision } from '../workflows/types';

export interface ReviewClaims {
  jobId: string;
  stepId: string;
  decision: Decision;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export type ReviewTokenCheck =
  { ok: true; claims: ReviewClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' };

// Far more than any real token; refuses to hash or decode huge inputs sent to the API.
const MAX_TOKEN_LENGTH = 2048;
const MAX_ID_LENGTH = 256;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const CLAIM_KEYS = ['decision', 'expiresAt', 'jobId', 'stepId'];

export function signReviewToken(secret: string, claims: ReviewClaims): string {
  if (!validClaims(claims)) throw new Error('invalid review claims');
  // Fixed key order, so the same claims always give the same token.
  const { jobId, stepId, decision, expiresAt } = claims;
  const payload = Buffer.from(JSON.stringify({ jobId, stepId, decision, expiresAt })).toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

export function verifyReviewToken(secret: string, token: string, now: number = Date.now()): ReviewTokenCheck {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'malformed' };
  const [payload, signature] = parts;
  if (!BASE64URL.test(payload) || !BASE64URL.test(signature)) return { ok: false, reason: 'malformed' };
  // Check the signature before parsing anything an attacker wrote. Comparing the canonical encodings (not decoded
  // bytes) also refuses alternative spellings of the same signature.
  if (!safeEqual(signature, mac(secret, payload))) return { ok: false, reason: 'bad-signature' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!validClaims(claims)) return { ok: false, reason: 'malformed' };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    claims: { jobId: claims.jobId, stepId: claims.stepId, decision: claims.decision, expiresAt: claims.expiresAt },
  };
}

/** Approve and Reject URLs for one review step; the API serves them at /v1/reviews/<token>. */
export function reviewLinks(
  publicUrl: string,
  secret: string,
  review: { jobId: string; stepId: string; expiresAt: number },
): { approve: string; reject: string } {
  const base = publicUrl.replace(/\/+$/, '');
  const link = (decision: Decision) => `${base}/v1/reviews/${signReviewToken(secret, { ...review, decision })}`;
  return { approve: link('approve'), reject: link('reject') };
}

/** The X-Longhaul-Signature header value for a webhook body: `sha256=<hex HMAC-SHA256(secret, body)>`. */
export function webhookSignature(secret: string, body: string | Buffer): string {
  return 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex');
}

/** Whether `header` is the signature of exactly these body bytes (for receivers, and tests). */
export function verifyWebhookSignature(
  secret: string,
  body: string | Buffer,
  header: string | string[] | null | undefined,
): boolean {
  if (typeof header !== 'string') return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return false;
  const expected = crypto.createHmac('sha256', secret).update(body).digest();
  return crypto.timingSafeEqual(Buffer.from(m[1], 'hex'), expected);
}

function mac(secret: string, payload: string): string {
  return crypto.createHmac('sha256', secret).update(payload).digest('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // timingSafeEqual throws on different lengths; the length of a valid signature is public anyway.
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function validClaims(c: unknown): c is ReviewClaims {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return false;
  const o = c as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return (
    keys.length === CLAIM_KEYS.length &&
    keys.every((k, i) => k === CLAIM_KEYS[i]) &&
    validId(o.jobId) &&
    validId(o.stepId) &&
    (o.decision === 'approve' || o.decision === 'reject') &&
    typeof o.expiresAt === 'number' &&
    Number.isSafeInteger(o.expiresAt) &&
    o.expiresAt > 0
  );
}

function validId(v: unknown): v is string {
  return (
    typeof v === 'string' &&
    v.length > 0 &&
    v.length <= MAX_ID_LENGTH &&
    ![...v].some((ch) => ch < ' ' || ch === '\x7f')
  );
}
