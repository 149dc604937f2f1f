// Where a job's files live: <dataDir>/jobs/<jobId>/steps/<stepId>[/items/<n>]/. Results name files by JobPath,
// relative to <dataDir>/jobs, so histories stay small and another machine sharing the directory can resolve them.
import path from 'node:path';
import type { JobPath } from '../workflows/types';

export function jobsRoot(dataDir: string): string {
  return path.resolve(dataDir, 'jobs');
}

/** The JobPath of a step's (or a fan-out item's) working directory. */
export function stepPath(jobId: string, stepId: string, item?: number): JobPath {
  safeSegment(jobId, 'job id');
  safeSegment(stepId, 'step id');
  const base = path.posix.join(jobId, 'steps', stepId);
  return item === undefined ? base : path.posix.join(base, 'items', String(item));
}

/** Absolute path of a JobPath; refuses anything that would leave the jobs root. */
export function resolveJobPath(dataDir: string, p: JobPath): string {
  const root = jobsRoot(dataDir);
  const abs = path.resolve(root, p);
  if (abs !== root && !abs.startsWith(root + path.sep)) throw new Error(`path escapes the jobs directory: ${p}`);
  return abs;
}

/** The JobPath of an absolute path under the jobs root. */
export function toJobPath(dataDir: string, abs: string): JobPath {
  return path.relative(jobsRoot(dataDir), abs).split(path.sep).join('/');
}

function safeSegment(s: string, what: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(s)) throw new Error(`invalid ${what}: ${JSON.stringify(s)}`);
}
