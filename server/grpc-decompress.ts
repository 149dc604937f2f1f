// Workers (the SDK's Rust core) send gzip-compressed requests. grpc-js inflates each message through
// a zlib stream, which for small messages costs far more than the inflation itself (about a tenth of
// the server's CPU in the engine benchmark). Replace it with one-shot synchronous inflation, keeping
// grpc-js's size limit and error codes. Applied only if the internal method has the expected shape.
import * as grpc from '@grpc/grpc-js';
import zlib from 'node:zlib';

export function installFastDecompression(): boolean {
  let proto: any;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    proto = require('@grpc/grpc-js/build/src/server-interceptors').BaseServerInterceptingCall?.prototype;
  } catch {
    return false;
  }
  const original = proto?.decompressMessage;
  if (typeof original !== 'function' || original.length !== 2) return false;
  proto.decompressMessage = function (this: { maxReceiveMessageSize: number }, message: Buffer, encoding: string) {
    if (encoding !== 'gzip' && encoding !== 'deflate') return original.call(this, message, encoding);
    const max = this.maxReceiveMessageSize;
    const opts = max !== -1 ? { maxOutputLength: max + 1 } : {};
    try {
      const body = message.subarray(5);
      const out = encoding === 'gzip' ? zlib.gunzipSync(body, opts) : zlib.inflateSync(body, opts);
      if (max !== -1 && out.byteLength > max) {
        return Promise.reject({
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `Received message that decompresses to a size larger than ${max}`,
        });
      }
      return out;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return Promise.reject({
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `Received message that decompresses to a size larger than ${max}`,
        });
      }
      return Promise.reject({ code: grpc.status.INTERNAL, details: 'Failed to decompress message' });
    }
  };
  return true;
}
