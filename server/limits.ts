// Size limits on what callers hand the server, as Temporal enforces them (its default blob limit is
// 2 MiB per payload set): a clear INVALID_ARGUMENT instead of a history that no worker can load.
import { invalidArgument } from './grpc';

export const BLOB_SIZE_LIMIT = 2 * 1024 * 1024;

/** Bytes of payload data and metadata in a Payloads message (or a single Payload). */
export function payloadBytes(p: any): number {
  if (!p) return 0;
  const list: any[] = p.payloads ?? [p];
  let n = 0;
  for (const x of list) {
    n += x?.data?.length ?? 0;
    for (const v of Object.values(x?.metadata ?? {})) n += (v as Uint8Array)?.length ?? 0;
  }
  return n;
}

/** Throw INVALID_ARGUMENT when a payload set is over the blob size limit. */
export function checkBlobSize(p: any, what: string): void {
  const n = payloadBytes(p);
  if (n > BLOB_SIZE_LIMIT) {
    throw invalidArgument(`${what} is ${n} bytes, over the ${BLOB_SIZE_LIMIT}-byte limit for one payload set`);
  }
}

/** The failure recorded when a worker's result is over the limit. */
export function blobTooLarge(what: string, bytes: number): any {
  return {
    message: `${what} is ${bytes} bytes, over the ${BLOB_SIZE_LIMIT}-byte limit for one payload set`,
    source: 'Server',
    applicationFailureInfo: { type: 'BlobSizeLimitError', nonRetryable: true },
  };
}
