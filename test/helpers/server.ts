// Starts longhaul-server as a child process from its bin entry, the way users and CI run it.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
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
  await waitForPort(
    port,
    15_000,
    () => child.exitCode !== null,
    () => out,
  );
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

async function waitForPort(port: number, timeoutMs: number, dead: () => boolean, out: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dead()) throw new Error(`longhaul-server exited before listening:\n${out()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`longhaul-server did not listen on ${port}:\n${out()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
