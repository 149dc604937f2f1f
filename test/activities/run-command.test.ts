// runCommand against the example tools, in a MockActivityEnvironment with a temporary data directory; plus the
// pure helpers it is built from (argv templates, progress parsing and throttling).
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandArgv, expandString, shellCommand } from '../../activities/argv';
import type { ActivityDeps } from '../../activities/deps';
import { resolveJobPath, stepPath } from '../../activities/job-files';
import { processAlive, writePidFile } from '../../activities/process-group';
import { parseProgress, ProgressReporter, type ProgressUpdate } from '../../activities/progress';
import { createRunCommand } from '../../activities/run-command';
import type { ProgressReport, RunCommandRequest, StepResult, ToolSpec } from '../../workflows/types';
import { activityDeps, activityEnv, failure, useTempDir } from '../helpers/activities';

const TOOLS = path.resolve(__dirname, '../../examples/tools');
const tool = (name: string) => path.join(TOOLS, name);

let dataDir: string;
useTempDir('longhaul-run-command-', (dir) => (dataDir = dir));

const deps = (over: Partial<ActivityDeps> = {}) => activityDeps(dataDir, over);
const env = activityEnv;

function spec(over: Partial<ToolSpec> & { command: string[] }): ToolSpec {
  return { name: path.basename(over.command[0]), kind: 'command', timeout: '1m', heartbeat: '3s', retry: {}, ...over };
}

let n = 0;
function request(t: ToolSpec, input: Record<string, unknown> = {}, over: Partial<RunCommandRequest> = {}) {
  return { jobId: 'job-rc', stepId: `s${++n}`, tool: t, input, ...over } satisfies RunCommandRequest;
}

function workdir(req: RunCommandRequest): string {
  return resolveJobPath(dataDir, stepPath(req.jobId, req.stepId, req.item));
}

function run(e: MockActivityEnvironment, req: RunCommandRequest, d = deps()): Promise<StepResult> {
  return e.run(createRunCommand(d, { killGraceMs: 2000 }), req) as Promise<StepResult>;
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Both pids sleeper printed into `file`. */
function sleeperPids(file: string): Promise<{ pid: number; child: number }> {
  return waitFor(`pids in ${file}`, () => {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const pid = /^pid (\d+)$/m.exec(text);
    const child = /^child (\d+)$/m.exec(text);
    return pid && child ? { pid: Number(pid[1]), child: Number(child[1]) } : undefined;
  });
}

/** Gone means ESRCH, or a zombie waiting for an init that reaps orphans late (or never, in some containers). */
function gone(pid: number): boolean {
  return !processAlive(pid);
}

const slowDiv = spec({
  command: [tool('slow_div'), '--seconds', '{seconds}', '{x}', '{y}'],
  result: { pattern: 'The answer is: (?<value>-?\\d+)' },
  progress: { pattern: 'progress: (?<percent>\\d+)%', stream: 'stderr' },
});

describe('argv templates', () => {
  it('expands fields, dotted paths, arrays, numbers and objects', () => {
    const input = { a: 'x y', n: 3, b: true, o: { k: [1, 2] }, list: ['p', 'q'], empty: [] };
    expect(expandArgv(['/bin/t', '{a}', '--n={n}', '{b}', '{o.k.1}', '{list}', 'lit', '{empty}'], input)).toEqual([
      '/bin/t',
      'x y',
      '--n=3',
      'true',
      '2',
      'p',
      'q',
      'lit',
    ]);
    expect(expandString('o={o} list={list}', input)).toBe('o={"k":[1,2]} list=["p","q"]');
    // Braces that aren't placeholders (awk programs, JSON) are left alone.
    expect(expandArgv(['{print $1}', '{"x":1}'], {})).toEqual(['{print $1}', '{"x":1}']);
  });

  it('names a missing field', () => {
    expect(() => expandArgv(['{a.b}'], { a: {} })).toThrow(/"a\.b"/);
    expect(() => expandArgv(['{a}'], { a: null })).toThrow(/"a"/);
  });

  it('shell-quotes substituted values only', () => {
    expect(
      shellCommand(['echo', '{a}', '|', 'tr', 'a-z', 'A-Z', '{list}'], { a: "it's; $(x)", list: ['1 2', 3] }),
    ).toBe(`echo 'it'\\''s; $(x)' | tr a-z A-Z '1 2' '3'`);
  });
});

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('progress', () => {
  it('parses percent and message groups', () => {
    expect(parseProgress('progress: 42%', /progress: (?<percent>\d+)%/)).toEqual({ progress: 42 });
    expect(parseProgress('step 7 of 10: 150%', /(?<percent>\d+)% ?(?<message>.*)/)).toEqual({ progress: 100 });
    expect(parseProgress('[3/4] aligning', /\[\d+\/\d+\] (?<message>.+)/)).toEqual({ message: 'aligning' });
    expect(parseProgress('12.5 done', /^([\d.]+) done/)).toEqual({ progress: 12.5 });
    expect(parseProgress('nothing', /progress: (?<percent>\d+)%/)).toBeUndefined();
  });

  it('throttles signals, growing the interval with the run age, and only sends changes', async () => {
    let now = 0;
    const beats: ProgressUpdate[] = [];
    const signals: ProgressReport[] = [];
    const r = new ProgressReporter({
      stepId: 'st',
      attempt: 2,
      heartbeat: (d) => beats.push(d),
      signal: async (rep) => {
        signals.push(rep);
      },
      heartbeatIntervalMs: 1000,
      signalIntervalMs: 5000,
      now: () => now,
    });
    r.update({ progress: 1 });
    await flush();
    expect(signals).toEqual([{ stepId: 'st', attempt: 2, progress: 1, message: undefined }]);
    for (now = 100; now < 5000; now += 100) r.update({ progress: now / 100 });
    await flush();
    expect(signals).toHaveLength(1);
    now = 5000;
    r.tick();
    await flush();
    expect(signals.map((s) => s.progress)).toEqual([1, 49]);
    // Nothing new: no signal however long we wait.
    now = 20_000;
    r.tick();
    await flush();
    expect(signals).toHaveLength(2);
    // An old run: at 1000 s the minimum gap is 20 s, and growing.
    now = 1_000_000;
    r.update({ progress: 60 });
    await flush();
    now += 10_000;
    r.update({ progress: 61 });
    await flush();
    now += 9_000;
    r.tick();
    now += 1_000;
    r.tick();
    await flush();
    // 20 s after the last signal, but by now the gap is 1 020 000 / 50 = 20.4 s.
    expect(signals.map((s) => s.progress)).toEqual([1, 49, 60]);
    now += 500;
    r.tick();
    await flush();
    expect(signals.map((s) => s.progress)).toEqual([1, 49, 60, 61]);
    r.finish();
    expect(beats[beats.length - 1]).toEqual({ progress: 61, message: undefined });
  });

  it('ignores a failing signal', async () => {
    const errors: unknown[] = [];
    const r = new ProgressReporter({
      stepId: 'st',
      attempt: 1,
      heartbeat: () => undefined,
      signal: () => Promise.reject(new Error('workflow gone')),
      heartbeatIntervalMs: 1000,
      onSignalError: (e) => errors.push(e),
    });
    r.update({ progress: 5 });
    await new Promise((res) => setTimeout(res, 10));
    expect(errors).toHaveLength(1);
    r.finish();
  });
});

describe('runCommand', () => {
  it('runs slow_div and extracts the value', async () => {
    const req = request(slowDiv, { seconds: 0, x: 9, y: 2 });
    const result = await run(env(), req);
    expect(result.exitCode).toBe(0);
    expect(result.value).toBe('4');
    expect(result.stdoutTail).toBe('The answer is: 4\n');
    expect(result.stdoutBytes).toBe(17);
    expect(result.stdoutFile).toBe(`job-rc/steps/${req.stepId}/stdout.log`);
    expect(result.stderrFile).toBe(`job-rc/steps/${req.stepId}/stderr.log`);
    expect(fs.readFileSync(resolveJobPath(dataDir, result.stdoutFile!), 'utf8')).toBe('The answer is: 4\n');
    expect(fs.existsSync(resolveJobPath(dataDir, result.stderrFile!))).toBe(true);
    expect(result.artifacts).toEqual([]);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    // result.json is what collectResults reads; the pidfile is gone once the group is.
    expect(JSON.parse(fs.readFileSync(path.join(workdir(req), 'result.json'), 'utf8'))).toEqual(result);
    expect(fs.existsSync(path.join(workdir(req), '.pid'))).toBe(false);
  });

  it('uses short stdout as the value and parses JSON stdout when asked', async () => {
    const plain = await run(env(), request(spec({ command: [tool('flaky'), '--fail-attempts', '0'] })));
    expect(plain.value).toBe('ok attempt 1');
    const stats = spec({ command: [tool('seq_stats')], stdin: 'record', result: { json: true } });
    const r = await run(env(), request(stats, { record: '>R1 test\nGGCCAT\n' }));
    expect(r.value).toEqual({ id: 'R1', length: 6, gc: 0.667 });
  });

  it('fails with CommandFailed on division by zero', async () => {
    const req = request(slowDiv, { seconds: 0, x: 1, y: 0 });
    const err = await failure(run(env(), req));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('CommandFailed');
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toBe('slow_div exited with code 2: slow_div: division by zero');
    expect(err.details[0]).toMatchObject({
      exitCode: 2,
      stdoutFile: `job-rc/steps/${req.stepId}/stdout.log`,
      stderrFile: `job-rc/steps/${req.stepId}/stderr.log`,
    });
    expect(err.details[0].stderrTail).toContain('division by zero');
    expect(fs.existsSync(path.join(workdir(req), 'result.json'))).toBe(false);
  });

  it('makes listed exit codes non-retryable', async () => {
    const t = { ...slowDiv, retry: { nonRetryableExitCodes: [2, 64] } };
    const err = await failure(run(env(), request(t, { seconds: 0, x: 1, y: 0 })));
    expect(err.type).toBe('CommandFailed');
    expect(err.nonRetryable).toBe(true);
  });

  it('removes a previous result.json and truncates the logs on a new attempt', async () => {
    const req = request(slowDiv, { seconds: 0, x: 8, y: 2 });
    await run(env(), req);
    const err = await failure(run(env({ attempt: 2 }), { ...req, input: { seconds: 0, x: 1, y: 0 } }));
    expect(err.type).toBe('CommandFailed');
    expect(fs.existsSync(path.join(workdir(req), 'result.json'))).toBe(false);
    expect(fs.readFileSync(path.join(workdir(req), 'stdout.log'), 'utf8')).toBe('');
  });

  it('fails non-retryably with BadInput for a missing placeholder', async () => {
    const err = await failure(run(env(), request(slowDiv, { seconds: 0, x: 1 })));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('BadInput');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('"y"');
  });

  it('fails non-retryably with CommandNotFound for a missing or non-executable program', async () => {
    const missing = await failure(run(env(), request(spec({ command: ['/nonexistent/longhaul-tool', 'x'] }))));
    expect(missing.type).toBe('CommandNotFound');
    expect(missing.nonRetryable).toBe(true);
    const notExec = path.resolve(TOOLS, '../data/sequences.fasta');
    const denied = await failure(run(env(), request(spec({ command: [notExec] }))));
    expect(denied.type).toBe('CommandNotFound');
  });

  it('feeds stdin from text, from a file, and from an input field; closes it otherwise', async () => {
    const align = spec({ command: [tool('align')] });
    const fasta = '>A one\nACGT\n>BB two\nAC\n';
    const fromText = await run(env(), request(align, {}, { stdin: { text: fasta } }));
    expect(fromText.value).toBe('A   ACGT\nBB  AC--');

    fs.mkdirSync(path.join(dataDir, 'jobs', 'job-rc'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'jobs', 'job-rc', 'in.fasta'), fasta);
    const fromFile = await run(env(), request(align, {}, { stdin: { file: 'job-rc/in.fasta' } }));
    expect(fromFile.value).toBe('A   ACGT\nBB  AC--');

    const fromField = await run(env(), request({ ...align, stdin: 'seqs' }, { seqs: fasta }));
    expect(fromField.value).toBe('A   ACGT\nBB  AC--');

    const none = await failure(run(env(), request(align)));
    expect(none.details[0].exitCode).toBe(4);

    const outside = await failure(run(env(), request(align, {}, { stdin: { file: '../../etc/passwd' } })));
    expect(outside.type).toBe('BadInput');
  });

  it('sets the LONGHAUL_* environment and the tool env', async () => {
    const t = spec({
      command: [
        '/bin/sh',
        '-c',
        'echo "$LONGHAUL_JOB_ID $LONGHAUL_STEP $LONGHAUL_ITEM $LONGHAUL_ATTEMPT $GREETING $PWD"',
      ],
      env: { GREETING: 'hi' },
    });
    const req = request(t, {}, { item: 7 });
    const r = await run(env({ attempt: 3 }), req);
    expect(r.value).toBe(`job-rc ${req.stepId} 7 3 hi ${workdir(req)}`);
    const flaky = spec({ command: [tool('flaky'), '--fail-attempts', '2', '--message', 'not yet'] });
    const err = await failure(run(env({ attempt: 2 }), request(flaky)));
    expect(err.message).toBe('flaky exited with code 1: not yet');
    expect((await run(env({ attempt: 3 }), request(flaky))).value).toBe('ok attempt 3');
  });

  it('heartbeats parsed progress and signals it to the workflow', async () => {
    const e = env({ heartbeatTimeoutMs: 1500 });
    const beats: any[] = [];
    e.on('heartbeat', (d) => beats.push(d));
    const signals: { workflowId: string; name: string; report: ProgressReport }[] = [];
    const client = {
      workflow: {
        getHandle: (workflowId: string) => ({
          signal: async (name: string, report: ProgressReport) => {
            signals.push({ workflowId, name, report });
          },
        }),
      },
    } as unknown as ActivityDeps['client'];
    const req = request(slowDiv, { seconds: 2, x: 100, y: 7 }, { progressTo: { workflowId: 'wf-1' } });
    const r = await run(e, req, deps({ client, progressSignalIntervalMs: 300 }));
    expect(r.value).toBe('14');
    const seen = beats.map((b) => b?.progress).filter((p) => p !== undefined);
    expect(seen.some((p) => p > 0 && p < 100)).toBe(true);
    expect(beats[beats.length - 1]).toEqual({ progress: 100, message: undefined });
    expect(signals.length).toBeGreaterThanOrEqual(2);
    expect(signals.length).toBeLessThanOrEqual(10);
    expect(signals[0]).toMatchObject({
      workflowId: 'wf-1',
      name: 'progress',
      report: { stepId: req.stepId, attempt: 1 },
    });
    const ps = signals.map((s) => s.report.progress!);
    expect([...ps].sort((a, b) => a - b)).toEqual(ps);
  });

  it('does not fail when progress signals fail', async () => {
    const client = {
      workflow: { getHandle: () => ({ signal: () => Promise.reject(new Error('not found')) }) },
    } as unknown as ActivityDeps['client'];
    const req = request(slowDiv, { seconds: 0.5, x: 4, y: 2 }, { progressTo: { workflowId: 'gone' } });
    expect((await run(env(), req, deps({ client }))).value).toBe('2');
  });

  it('kills the whole process group on cancellation', async () => {
    const e = env();
    const req = request(spec({ command: [tool('sleeper'), '30'] }));
    const p = run(e, req);
    p.catch(() => undefined);
    const { pid, child } = await sleeperPids(path.join(workdir(req), 'stdout.log'));
    expect(processAlive(pid) && processAlive(child)).toBe(true);
    const t0 = Date.now();
    e.cancel();
    const err = await failure(p);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitFor('sleeper gone', () => gone(pid) && gone(child));
  });

  it('stops the group before the start-to-close timeout', async () => {
    const req = request(spec({ command: [tool('sleeper'), '30'] }));
    const t0 = Date.now();
    const err = await failure(run(env({ startToCloseTimeoutMs: 3000 }), req));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('Timeout');
    expect(err.nonRetryable).toBe(false);
    expect(Date.now() - t0).toBeLessThan(3000);
    const { pid, child } = await sleeperPids(path.join(workdir(req), 'stdout.log'));
    await waitFor('sleeper gone', () => gone(pid) && gone(child));
  });

  it('kills a group left over by an earlier attempt, but not an unrelated process', async () => {
    const req = request(slowDiv, { seconds: 0, x: 6, y: 3 });
    const dir = workdir(req);
    fs.mkdirSync(dir, { recursive: true });
    // An "earlier attempt": a detached sleeper in the step's directory, as a dead worker would have left it.
    const out = fs.openSync(path.join(dir, 'stdout.log'), 'w');
    const leftover = spawn(tool('sleeper'), ['30'], { cwd: dir, detached: true, stdio: ['ignore', out, 'ignore'] });
    fs.closeSync(out);
    const { pid, child } = await sleeperPids(path.join(dir, 'stdout.log'));
    expect(pid).toBe(leftover.pid);
    writePidFile(dir, pid);

    const r = await run(env({ attempt: 2 }), req);
    expect(r.value).toBe('2');
    await waitFor('leftover gone', () => gone(pid) && gone(child));

    // A pidfile naming a live process elsewhere (a reused pid) must not kill it.
    const otherDir = fs.mkdtempSync(path.join(dataDir, 'other-'));
    const otherOut = path.join(otherDir, 'out');
    const fd = fs.openSync(otherOut, 'w');
    const unrelated = spawn(tool('sleeper'), ['30'], {
      cwd: otherDir,
      detached: true,
      stdio: ['ignore', fd, 'ignore'],
    });
    fs.closeSync(fd);
    try {
      const other = await sleeperPids(otherOut);
      writePidFile(dir, other.pid);
      expect((await run(env({ attempt: 3 }), req)).value).toBe('2');
      expect(processAlive(other.pid) && processAlive(other.child)).toBe(true);
    } finally {
      process.kill(-unrelated.pid!, 'SIGKILL');
    }
  });

  it('keeps files matching the output globs as artifacts', async () => {
    const t = spec({
      command: [
        '/bin/sh',
        '-c',
        'echo 1 > out1.txt; echo 2 > out22.txt; mkdir sub; echo 3 > sub/a.dat; echo x > b.log',
      ],
      outputs: ['out?.txt', 'sub/*.dat', 'missing.txt', '../*'],
    });
    const req = request(t);
    const r = await run(env(), req);
    const base = `job-rc/steps/${req.stepId}`;
    expect(r.artifacts).toEqual([`${base}/out1.txt`, `${base}/sub/a.dat`]);
    const all = await run(env(), request({ ...t, command: ['/bin/sh', '-c', 'echo 1 > a.txt'], outputs: ['*'] }));
    // `*` skips dotfiles (the pidfile) like a shell does; it does see the logs.
    expect(all.artifacts!.map((a) => path.posix.basename(a))).toEqual(['a.txt', 'stderr.log', 'stdout.log']);
  });

  it('quotes substituted values for shell tools', async () => {
    const t = spec({ command: ['echo', '{text}', '|', 'tr', 'a-z', 'A-Z'], shell: true });
    const text = `hello world; touch pwned $(touch pwned2) \`touch pwned3\` it's "x"`;
    const req = request(t, { text });
    const r = await run(env(), req);
    expect(r.value).toBe(text.toUpperCase());
    for (const f of ['pwned', 'pwned2', 'pwned3']) expect(fs.existsSync(path.join(workdir(req), f))).toBe(false);
  });

  it('rejects invalid tool patterns and ids before running anything', async () => {
    const bad = await failure(
      run(env(), request({ ...slowDiv, progress: { pattern: '(' } }, { seconds: 0, x: 1, y: 1 })),
    );
    expect(bad.type).toBe('BadInput');
    const badId = await failure(run(env(), { ...request(slowDiv, { seconds: 0, x: 1, y: 1 }), stepId: '../x' }));
    expect(badId.type).toBe('BadInput');
  });
});
