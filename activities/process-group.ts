// Child processes run in their own process group so that a cancel, a timeout or the next attempt can stop the
// whole tree (shell wrappers, helpers the tool forks), not just the direct child. A pidfile in the working directory
// lets the next attempt find a group left behind by a worker that died.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_KILL_GRACE_MS = 5000;
export const PID_FILE = '.pid';

/** Spawns `command` as the leader of a new process group (its pgid is its pid). */
export function spawnInGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn(command, args, { ...options, detached: true });
}

/** Sends a signal to every process of the group; false if the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0], pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

const hasProc = (() => {
  try {
    return fs.statSync('/proc/self/stat').isFile();
  } catch {
    return false;
  }
})();

/** The live (non-zombie) members of a process group, via /proc; undefined where /proc isn't available. */
export function groupMembers(pgid: number): number[] | undefined {
  if (!hasProc) return undefined;
  const members: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') members.push(st.pid);
  }
  return members;
}

/** Whether anything of the group still runs. Zombies don't count: they are dead, only not yet reaped (and in some
 * containers PID 1 reaps orphans late or never). */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  const members = groupMembers(pgid);
  return members === undefined ? true : members.length > 0;
}

/** Whether a single process runs (zombies count as dead). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const st = hasProc ? readProcStat(pid) : undefined;
  return !st || (st.state !== 'Z' && st.state !== 'X');
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= until) return false;
    await delay(Math.min(50, Math.max(1, until - Date.now())));
  }
}

/** SIGTERM to the group, SIGKILL after `graceMs` if anything is left; resolves once the group is gone (or, should
 * even SIGKILL not take within a few seconds — a process stuck in the kernel — gives up and resolves anyway). */
export async function terminateGroup(pgid: number, graceMs = DEFAULT_KILL_GRACE_MS): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 5000);
}

export interface PidFile {
  pid: number;
  host: string;
  startedAt: string;
}

/** Records the group leader's pid in `<workdir>/.pid`. */
export function writePidFile(workdir: string, pid: number): void {
  const record: PidFile = { pid, host: os.hostname(), startedAt: new Date().toISOString() };
  fs.writeFileSync(path.join(workdir, PID_FILE), JSON.stringify(record) + '\n');
}

export function removePidFile(workdir: string): void {
  fs.rmSync(path.join(workdir, PID_FILE), { force: true });
}

export function readPidFile(workdir: string): PidFile | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(workdir, PID_FILE), 'utf8'));
    if (parsed && Number.isInteger(parsed.pid) && parsed.pid > 1) return parsed as PidFile;
  } catch {
    // No pidfile, or a torn one from a crash mid-write: nothing we can safely act on.
  }
  return undefined;
}

function cwdOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/**
 * Kills a process group left behind by an earlier attempt whose worker died. The pid in the pidfile may since have
 * been reused by an unrelated process, so the group is only killed when it was recorded on this host and one of its
 * live members still has the working directory as its cwd (the leader may have exited while its children run on).
 * Without /proc nothing can be verified and nothing is killed. Returns the pgid killed, if any.
 */
export async function killLeftoverGroup(workdir: string, graceMs = DEFAULT_KILL_GRACE_MS): Promise<number | undefined> {
  const record = readPidFile(workdir);
  if (!record) return undefined;
  if (record.host && record.host !== os.hostname()) return undefined;
  const pgid = record.pid;
  // Never our own group (a stale pidfile naming a pid that is now the worker, or its parent).
  if (pgid === process.pid || pgid === process.ppid || pgid === readProcStat(process.pid)?.pgrp) return undefined;
  const members = groupMembers(pgid);
  if (!members || members.length === 0) {
    removePidFile(workdir);
    return undefined;
  }
  let real: string;
  try {
    real = fs.realpathSync(workdir);
  } catch {
    return undefined;
  }
  if (!members.some((pid) => cwdOf(pid) === real)) {
    removePidFile(workdir);
    return undefined;
  }
  await terminateGroup(pgid, graceMs);
  removePidFile(workdir);
  return pgid;
}
