// Registers longhaul's search attributes on the namespace (idempotent), so jobs can be listed by client, tool,
// pipeline, state and label — on longhaul-server and on a real Temporal cluster alike.
import type { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/search-attributes';

const INDEXED = temporal.api.enums.v1.IndexedValueType;

function indexedType(t: SearchAttributeType): temporal.api.enums.v1.IndexedValueType {
  switch (t) {
    case SearchAttributeType.KEYWORD:
      return INDEXED.INDEXED_VALUE_TYPE_KEYWORD;
    case SearchAttributeType.KEYWORD_LIST:
      return INDEXED.INDEXED_VALUE_TYPE_KEYWORD_LIST;
    case SearchAttributeType.DATETIME:
      return INDEXED.INDEXED_VALUE_TYPE_DATETIME;
    default:
      throw new Error(`unsupported search attribute type ${t}`);
  }
}

export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([
    ...Object.keys(existing.customAttributes ?? {}),
    ...Object.keys(existing.systemAttributes ?? {}),
  ]);
  const missing = SEARCH_ATTRIBUTE_KEYS.filter((k) => !known.has(k.name));
  if (!missing.length) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, indexedType(k.type)])),
    });
  } catch (err) {
    // Another process registering them at the same moment is fine.
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
}
