// Wire types come from @temporalio/proto (protobufjs reflection); this file holds the small helpers
// the server needs around them: time conversions and compact base64 encoding for persisted state.
import Long from 'long';
// The package's CommonJS export is the protobufjs Root itself; `import * as` would drop its methods.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import protos = require('@temporalio/proto');

/** The reflection API of the protobufjs Root that @temporalio/proto exports (its typings omit it). */
interface ReflectionType {
  fields: Record<string, unknown>;
  encode(m: any): { finish(): Uint8Array };
  decode(b: Uint8Array): any;
}
interface ReflectionMethod {
  name: string;
  resolvedRequestType: ReflectionType | null;
  resolvedResponseType: ReflectionType | null;
}
interface ReflectionRoot {
  lookupType(name: string): ReflectionType;
  lookupService(name: string): { methodsArray: ReflectionMethod[]; resolveAll(): unknown };
}

export const root = protos as unknown as typeof protos & ReflectionRoot;
export const temporal = root.temporal;
export const api = root.temporal.api;
export const enums = root.temporal.api.enums.v1;
export const EventType = enums.EventType;

export type Timestamp = { seconds?: Long | number | null; nanos?: number | null };
export type Duration = Timestamp;

export function toNumber(v: Long | number | string | null | undefined): number {
  if (v == null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/** A protobuf Duration to milliseconds (0 when unset). */
export function durationMs(d: Duration | null | undefined): number {
  if (!d) return 0;
  return toNumber(d.seconds as any) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
}

export function msToDuration(ms: number): Duration | null {
  if (!ms || ms <= 0) return null;
  return { seconds: Math.floor(ms / 1000), nanos: Math.round(ms % 1000) * 1e6 };
}

export function msToTimestamp(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: Math.round(ms % 1000) * 1e6 };
}

export function timestampMs(t: Timestamp | null | undefined): number {
  if (!t) return 0;
  return toNumber(t.seconds as any) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

type Codec<T> = { encode(m: T): { finish(): Uint8Array }; decode(b: Uint8Array): T };

/** Encode a message to base64 for the JSON mutable-state record (null stays null). */
export function toB64<T>(type: Codec<T>, msg: T | null | undefined): string | null {
  if (msg == null) return null;
  return Buffer.from(type.encode(msg).finish()).toString('base64');
}

export function fromB64<T>(type: Codec<T>, s: string | null | undefined): T | null {
  if (!s) return null;
  return type.decode(Buffer.from(s, 'base64'));
}

export const Payloads = api.common.v1.Payloads;
export const Failure = api.failure.v1.Failure;
export const HistoryEvent = api.history.v1.HistoryEvent;
export const SearchAttributes = api.common.v1.SearchAttributes;
export const Memo = api.common.v1.Memo;
export const Header = api.common.v1.Header;
