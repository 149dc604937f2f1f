// Starts longhaul-server as a child process from its bin entry, the way users and CI run it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { freePort, waitForPort } from '../../cli/ports';

export { freePort };

export const SERVER_BIN = path.resolve(__dirname, '..', '..', 'bin', 'longhaul-server');

export interface RunningServer {
  address: string;
  port: number;
  process: ChildProcess;
  /** Graceful stop (SIGTERM) and wait for exit. */
  stop(): Promise<void>;
  /** kill -9, as a crash. */
  crash(): Promise<void>;
  output(): string;
}

export async function startServer(
  opts: { port?: number; dbFile?: string; args?: string[] } = {},
): Promise<RunningServer> {
  const port = opts.port ?? (await freePort());
  const args = ['--port', String(port), ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []), ...(opts.args ?? [])];
  const child = spawn(process.execPath, [SERVER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort({ port, child, what: 'longhaul-server', timeoutMs: 15_000, intervalMs: 25 });
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${out}`, { cause: err });
  }
  return {
    address: `127.0.0.1:${port}`,
    port,
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    async crash() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface DurableServer {
  /** The server now running (replaced by up()). */
  readonly current: RunningServer;
  readonly dbFile: string;
  /** kill -9 ('crash') or SIGTERM ('stop') the server. */
  down(how: 'crash' | 'stop'): Promise<void>;
  /** Start it again on the same port and database file. */
  up(): Promise<RunningServer>;
}

/**
 * A durable server on a temporary database for one test file: started before its tests, stopped and
 * its files removed after them (after the file's own afterAll hooks, which run first).
 */
export function useDurableServer(prefix: string): DurableServer {
  let tmpDir = '';
  let server: RunningServer | undefined;
  const handle: DurableServer = {
    get current() {
      return server!;
    },
    get dbFile() {
      return path.join(tmpDir, 'temporal.db');
    },
    async down(how) {
      await (how === 'crash' ? server!.crash() : server!.stop());
    },
    async up() {
      server = await startServer({ dbFile: handle.dbFile, port: server!.port });
      return server;
    },
  };
  beforeAll(async () => {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), `longhaul-${prefix}-`));
    server = await startServer({ dbFile: handle.dbFile });
  });
  afterAll(async () => {
    await server?.stop();
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  });
  return handle;
}
