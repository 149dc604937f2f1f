// `npm start` (cli/start.ts): one command runs longhaul-server and a worker; Ctrl-C stops both; a restart on the
// same data directory resumes the unfinished job.
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { submitJob } from '../../jobs/submit';
import { statusQuery } from '../../workflows/definitions';
import type { JobStatus } from '../../workflows/types';
import { eventually, TEST_CONFIG, TEST_SECRET, testConfig } from '../helpers/jobs';
import { freePort } from '../helpers/server';

const START = path.resolve(__dirname, '..', '..', 'cli', 'start.ts');

describe('npm start', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-start-'));
  const procs: ChildProcess[] = [];
  afterAll(() => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(port: number, apiPort: number) {
    const child = spawn(process.execPath, ['--import', 'tsx', START], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: '',
        LONGHAUL_SERVER_PORT: String(port),
        PORT: String(apiPort),
        LONGHAUL_DATA_DIR: dataDir,
        LONGHAUL_CONFIG: TEST_CONFIG,
        LONGHAUL_SECRET: TEST_SECRET,
        LONGHAUL_TASK_QUEUE: 'start-test',
        LONGHAUL_FROM_SOURCE: '1',
        LONGHAUL_WORKFLOW_BUNDLE: inject('jobsBundlePath'),
        LONGHAUL_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await eventually(async () => out.includes('longhaul worker ready') && out.includes('HTTP API'), 60_000);
    return { child, exited, output: () => out };
  }

  it('runs a job, stops on Ctrl-C, and resumes it after a restart', async () => {
    const port = await freePort();
    const apiPort = await freePort();
    const first = await start(port, apiPort);
    expect(first.output()).toContain(`longhaul-server  127.0.0.1:${port}`);
    expect(fs.existsSync(path.join(dataDir, 'temporal.db'))).toBe(true);
    // The API is up, with a development token (no LONGHAUL_TOKENS given) kept in the data directory.
    const devToken = fs.readFileSync(path.join(dataDir, 'dev-token'), 'utf8').trim();
    expect(first.output()).toContain(devToken);
    const health = await fetch(`http://127.0.0.1:${apiPort}/v1/tools`, {
      headers: { Authorization: `Bearer ${devToken}` },
    });
    expect(health.status).toBe(200);

    const config = testConfig(dataDir, { LONGHAUL_TASK_QUEUE: 'start-test' });
    let connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    let client = new Client({ connection });
    const done = await submitJob(client, config, 'alice', { tool: 'slow_div', input: { x: 8, y: 2 } });
    expect(((await client.workflow.getHandle(done.jobId).result()) as JobStatus).result?.value).toBe('4');
    // A job that will still be waiting when everything stops.
    const later = await submitJob(client, config, 'alice', {
      tool: 'slow_div',
      input: { x: 9, y: 3 },
      notBefore: new Date(Date.now() + 4000).toISOString(),
    });
    expect((await client.workflow.getHandle(later.jobId).query(statusQuery)).state).toBe('queued');
    await connection.close();

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    await expect(Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 500 })).rejects.toThrow();

    const second = await start(port, apiPort);
    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    client = new Client({ connection });
    const s = (await client.workflow.getHandle(later.jobId).result()) as JobStatus;
    expect(s).toMatchObject({ state: 'succeeded', result: { value: '3' } });
    await connection.close();
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 120_000);
});
