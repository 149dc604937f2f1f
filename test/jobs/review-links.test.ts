import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  reviewLinks,
  signReviewToken,
  verifyReviewToken,
  verifyWebhookSignature,
  webhookSignature,
  type ReviewClaims,
} from '../../jobs/review-links';

const secret = 'test-secret';
const now = 1_700_000_000_000;
const claims: ReviewClaims = { jobId: 'job-1', stepId: 'check', decision: 'approve', expiresAt: now + 60_000 };

function b64(s: string): string {
  return Buffer.from(s).toString('base64url');
}

function sign(payload: string, key = secret): string {
  return `${payload}.${crypto.createHmac('sha256', key).update(payload).digest('base64url')}`;
}

describe('review tokens', () => {
  it('round-trips and is URL-safe', () => {
    const token = signReviewToken(secret, claims);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyReviewToken(secret, token, now)).toEqual({ ok: true, claims });
    expect(signReviewToken(secret, { ...claims })).toBe(token);
  });

  it('uses the current time by default', () => {
    const fresh = signReviewToken(secret, { ...claims, expiresAt: Date.now() + 60_000 });
    expect(verifyReviewToken(secret, fresh).ok).toBe(true);
    const stale = signReviewToken(secret, { ...claims, expiresAt: Date.now() - 1 });
    expect(verifyReviewToken(secret, stale)).toEqual({ ok: false, reason: 'expired' });
  });

  it('expires at expiresAt', () => {
    const token = signReviewToken(secret, claims);
    expect(verifyReviewToken(secret, token, claims.expiresAt - 1).ok).toBe(true);
    expect(verifyReviewToken(secret, token, claims.expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a tampered payload', () => {
    const token = signReviewToken(secret, claims);
    const [, sig] = token.split('.');
    const forged = `${b64(JSON.stringify({ ...claims, decision: 'reject' }))}.${sig}`;
    expect(verifyReviewToken(secret, forged, now)).toEqual({ ok: false, reason: 'bad-signature' });
    const longer = `${b64(JSON.stringify({ ...claims, expiresAt: now + 1e12 }))}.${sig}`;
    expect(verifyReviewToken(secret, longer, now)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a tampered signature', () => {
    const token = signReviewToken(secret, claims);
    const [payload, sig] = token.split('.');
    const flipped = sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6);
    expect(verifyReviewToken(secret, `${payload}.${flipped}`, now)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyReviewToken(secret, `${payload}.${sig.slice(0, -1)}`, now)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyReviewToken(secret, `${payload}.${sig}A`, now)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses another secret', () => {
    const token = signReviewToken('other-secret', claims);
    expect(verifyReviewToken(secret, token, now)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses well-signed payloads that are not valid claims', () => {
    const bad: unknown[] = [
      'not json',
      null,
      [],
      42,
      { ...claims, decision: 'maybe' },
      { ...claims, expiresAt: String(claims.expiresAt) },
      { ...claims, expiresAt: 1.5 },
      { ...claims, jobId: '' },
      { ...claims, stepId: 7 },
      { ...claims, stepId: 'a\nb' },
      { ...claims, extra: true },
      { jobId: 'j', stepId: 's', decision: 'approve' },
    ];
    for (const b of bad) {
      const payload = b64(typeof b === 'string' ? b : JSON.stringify(b));
      expect(verifyReviewToken(secret, sign(payload), now), JSON.stringify(b)).toEqual({
        ok: false,
        reason: 'malformed',
      });
    }
  });

  it('refuses to sign invalid claims', () => {
    expect(() => signReviewToken(secret, { ...claims, decision: 'nope' as 'approve' })).toThrow();
    expect(() => signReviewToken(secret, { ...claims, expiresAt: NaN })).toThrow();
  });

  it('calls malformed strings malformed', () => {
    for (const s of ['', '.', 'abc', 'a.b.c', 'a b.c', 'abc.', '.abc', 'a+b.c/d', 'a=.b', 'x'.repeat(5000) + '.y']) {
      expect(verifyReviewToken(secret, s, now), s).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('never throws and never accepts random strings', () => {
    const alphabet = 'ABCxyz019_-.+/= \n\u00e9{}"';
    const valid = signReviewToken(secret, claims);
    for (let i = 0; i < 2000; i++) {
      let s: string;
      if (i % 2 === 0) {
        const n = Math.floor(Math.random() * 80);
        s = Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
      } else {
        // Mutate one character of a valid token.
        const at = Math.floor(Math.random() * valid.length);
        const ch = alphabet[Math.floor(Math.random() * alphabet.length)];
        s = valid.slice(0, at) + ch + valid.slice(at + 1);
        if (s === valid) continue;
      }
      const r = verifyReviewToken(secret, s, now);
      expect(r.ok, s).toBe(false);
    }
  });
});

describe('review links', () => {
  it('builds approve and reject URLs that verify', () => {
    for (const base of ['https://jobs.example.com', 'https://jobs.example.com/', 'https://jobs.example.com//']) {
      const links = reviewLinks(base, secret, { jobId: 'job-1', stepId: 'check', expiresAt: claims.expiresAt });
      for (const decision of ['approve', 'reject'] as const) {
        const m = /^https:\/\/jobs\.example\.com\/v1\/reviews\/([A-Za-z0-9_.-]+)$/.exec(links[decision]);
        expect(m, links[decision]).not.toBeNull();
        expect(verifyReviewToken(secret, m![1], now)).toEqual({ ok: true, claims: { ...claims, decision } });
      }
    }
  });
});

describe('webhook signatures', () => {
  it('signs and verifies exact bytes', () => {
    const body = '{"event":"job.finished","x":"\u00e9"}';
    const sig = webhookSignature(secret, body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(sig).toBe(webhookSignature(secret, Buffer.from(body)));
    expect(verifyWebhookSignature(secret, body, sig)).toBe(true);
    expect(verifyWebhookSignature(secret, Buffer.from(body), sig.toUpperCase().replace('SHA256=', 'sha256='))).toBe(
      true,
    );
    expect(verifyWebhookSignature(secret, body + ' ', sig)).toBe(false);
    expect(verifyWebhookSignature('other', body, sig)).toBe(false);
    expect(verifyWebhookSignature(secret, body, sig.slice(0, -1))).toBe(false);
    expect(verifyWebhookSignature(secret, body, sig.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifyWebhookSignature(secret, body, undefined)).toBe(false);
    expect(verifyWebhookSignature(secret, body, [sig])).toBe(false);
    expect(verifyWebhookSignature(secret, body, '')).toBe(false);
  });
});
