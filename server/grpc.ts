// gRPC plumbing: service definitions built from the @temporalio/proto descriptors (no hand-written
// protos), promise-based handlers, and the mapping of server errors to gRPC status + details.
import * as grpc from '@grpc/grpc-js';
import { root } from './proto';

/** An error a handler throws to answer with a specific gRPC status (and optional typed details). */
export class ApiError extends Error {
  constructor(
    public readonly code: grpc.status,
    message: string,
    public readonly details?: { typeName: string; value: object },
  ) {
    super(message);
  }
}

export const invalidArgument = (msg: string) => new ApiError(grpc.status.INVALID_ARGUMENT, msg);
export const notFound = (msg: string) => new ApiError(grpc.status.NOT_FOUND, msg);
export const failedPrecondition = (msg: string) => new ApiError(grpc.status.FAILED_PRECONDITION, msg);

/** The shape of each handler: receives the decoded request and the call (for cancellation), returns the response. */
export type Handler = (req: any, call: grpc.ServerUnaryCall<any, any>) => Promise<any> | any;

/** A response whose encoding the handler did itself (e.g. a history spliced from stored event bytes). */
export class RawResponse {
  constructor(public readonly bytes: Uint8Array) {}
}

const Status = root.lookupType('google.rpc.Status');

function toServiceError(err: unknown, log: (e: unknown) => void): Partial<grpc.ServiceError> {
  if (err instanceof ApiError) {
    const metadata = new grpc.Metadata();
    if (err.details) {
      const type = root.lookupType(err.details.typeName);
      const status = Status.encode({
        code: err.code,
        message: err.message,
        details: [
          {
            type_url: `type.googleapis.com/${err.details.typeName}`,
            value: type.encode(err.details.value).finish(),
          },
        ],
      }).finish();
      metadata.set('grpc-status-details-bin', Buffer.from(status));
    }
    return { code: err.code, details: err.message, metadata };
  }
  log(err);
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/**
 * Register every method of a proto service on the gRPC server. Methods without a handler answer
 * UNIMPLEMENTED with the method name, so clients see a clear error rather than a hang.
 */
export function addService(
  server: grpc.Server,
  serviceName: string,
  handlers: Record<string, Handler>,
  log: (e: unknown) => void,
): void {
  const svc = root.lookupService(serviceName);
  svc.resolveAll();
  const definition: Record<string, grpc.MethodDefinition<any, any>> = {};
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of svc.methodsArray) {
    const reqType = method.resolvedRequestType!;
    const resType = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: any) => Buffer.from(reqType.encode(m).finish()),
      requestDeserialize: (b: Buffer) => reqType.decode(b),
      responseSerialize: (m: any) =>
        m instanceof RawResponse ? Buffer.from(m.bytes) : Buffer.from(resType.encode(m).finish()),
      responseDeserialize: (b: Buffer) => resType.decode(b),
    };
    const handler = handlers[method.name];
    impl[method.name] = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
      if (!handler) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not implemented by longhaul-server` });
        return;
      }
      let result: any;
      try {
        result = handler(call.request, call);
      } catch (err) {
        callback(toServiceError(err, log));
        return;
      }
      if (result && typeof result.then === 'function') {
        result.then(
          (res: any) => callback(null, res ?? {}),
          (err: unknown) => callback(toServiceError(err, log)),
        );
      } else {
        callback(null, result ?? {});
      }
    };
  }
  server.addService(definition, impl);
}
