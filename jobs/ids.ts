// Job ids: unguessable and easy to read aloud. 20 lower-case consonants (no l, which reads like 1) in five
// groups of four, e.g. "bkrt-vmqz-hdnf-sgxp-cwjt": 20 × log2(19) ≈ 85 random bits.
import { createHmac, randomBytes } from 'node:crypto';

const ALPHABET = 'bcdfghjkmnpqrstvwxz';
const LENGTH = 20;
export const JOB_ID_PATTERN = /^[bcdfghjkmnpqrstvwxz]{4}(-[bcdfghjkmnpqrstvwxz]{4}){4}$/;

export function newJobId(): string {
  return format(randomChars());
}

/** The job id an idempotency key maps to: a keyed hash, so the same client and key always name the same job and
 * nobody without the secret can predict it. */
export function jobIdForKey(secret: string, clientId: string, key: string): string {
  const chars: string[] = [];
  for (let counter = 0; chars.length < LENGTH; counter++) {
    const bytes = createHmac('sha256', secret).update(`${clientId}\0${key}\0${counter}`).digest();
    pick(bytes, chars);
  }
  return format(chars);
}

export function isJobId(s: string): boolean {
  return JOB_ID_PATTERN.test(s);
}

function randomChars(): string[] {
  const chars: string[] = [];
  while (chars.length < LENGTH) pick(randomBytes(32), chars);
  return chars;
}

/** Rejection sampling: bytes ≥ 19·13 = 247 are dropped so every letter is equally likely. */
function pick(bytes: Buffer, into: string[]): void {
  const limit = ALPHABET.length * Math.floor(256 / ALPHABET.length);
  for (const b of bytes) {
    if (into.length >= LENGTH) return;
    if (b < limit) into.push(ALPHABET[b % ALPHABET.length]);
  }
}

function format(chars: string[]): string {
  return chars.join('').replace(/(.{4})(?=.)/g, '$1-');
}
