// Local ports for the processes longhaul spawns (used by `npm start`, the tests and the benchmarks): a free one to
// listen on, and waiting until a just-spawned process accepts connections, failing at once if it exits first.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

export async function waitForPort(opts: {
  port: number;
  host?: string;
  /** The process that should listen; its exit ends the wait with an error. */
  child: ChildProcess;
  /** Its name, for errors. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const { child } = opts;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${opts.what} exited before listening (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(opts.port, host);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${opts.what} did not listen on ${host}:${opts.port}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
