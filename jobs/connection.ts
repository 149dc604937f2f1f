// Connecting to Temporal (TEMPORAL_ADDRESS, or the embedded longhaul-server): retried for a while, so that the
// parts of `npm start` — or several machines — may come up in any order.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export async function withRetry<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() + delay > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export async function connectClient(address: string, namespace: string, timeoutMs?: number): Promise<Client> {
  const connection = await withRetry(
    `cannot reach Temporal at ${address}`,
    () => Connection.connect({ address, connectTimeout: 2000 }),
    timeoutMs,
  );
  return new Client({ connection, namespace });
}

export async function connectWorker(address: string, timeoutMs?: number): Promise<NativeConnection> {
  return withRetry(`cannot reach Temporal at ${address}`, () => NativeConnection.connect({ address }), timeoutMs);
}
