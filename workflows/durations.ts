// Durations as written in config ('500ms', '30s', '10m', '2h', '30d', '1w', or a number of milliseconds).
// Pure code: used by config loading and, deterministically, inside workflows.
import type { Duration } from './types';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/** Milliseconds of a duration; throws on anything else. */
export function toMs(d: Duration): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new Error(`invalid duration: ${d}`);
    return d;
  }
  const m = DURATION_PATTERN.exec(d.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(d)} (use e.g. 30s, 10m, 2h, 30d)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}
