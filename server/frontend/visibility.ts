// Visibility RPCs: list, scan and count executions with Temporal's filter language (see
// visibility/query.ts), keyset page tokens, and GROUP BY ExecutionStatus counts.
import { invalidArgument, type Handler } from '../grpc';
import type { Execution } from '../history/execution';
import type { MutableState } from '../history/state';
import { Memo, fromB64, msToDuration, msToTimestamp } from '../proto';
import {
  afterSql,
  fromSql,
  orderBySql,
  parseQuery,
  statusName,
  type ParsedQuery,
  type SqlValue,
} from '../visibility/query';
import { SYSTEM_ATTRIBUTES, presentSearchAttributes } from '../visibility/search-attributes';
import type { ServerContext } from '../context';

export function workflowExecutionInfo(ctx: ServerContext, exec: Execution | MutableState): any {
  const ms = 'ms' in exec ? exec.ms : exec;
  return {
    execution: { workflowId: ms.workflowId, runId: ms.runId },
    type: { name: ms.workflowType },
    startTime: msToTimestamp(ms.startTime),
    closeTime: ms.closeTime !== null ? msToTimestamp(ms.closeTime) : undefined,
    status: ms.status,
    historyLength: ms.nextEventId - 1,
    executionTime: msToTimestamp(ms.executionTime),
    memo: fromB64(Memo, ms.memo) ?? undefined,
    searchAttributes: presentSearchAttributes(ctx.searchAttributes, ms.searchAttributes),
    taskQueue: ms.taskQueue,
    stateTransitionCount: ms.stateTransitions,
    historySizeBytes: ms.historySizeBytes,
    executionDuration: ms.closeTime !== null ? msToDuration(ms.closeTime - ms.executionTime) : undefined,
    parentNamespaceId: ms.parent?.namespaceId,
    parentExecution: ms.parent ? { workflowId: ms.parent.workflowId, runId: ms.parent.runId } : undefined,
    rootExecution: { workflowId: ms.workflowId, runId: ms.runId },
    firstRunId: ms.firstRunId,
  };
}

const MAX_PAGE = 1000;

/** A page token: the sort-key values of the last row returned (keyset paging: stable under inserts). */
function encodeToken(values: SqlValue[]): Buffer {
  return Buffer.from(JSON.stringify({ v: values }));
}

function decodeToken(token: Uint8Array | undefined | null, keys: number): SqlValue[] | null {
  if (!token?.length) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token).toString()).v;
  } catch {
    v = undefined;
  }
  if (
    !Array.isArray(v) ||
    v.length !== keys ||
    !v.every((x) => x === null || typeof x === 'string' || typeof x === 'number')
  )
    throw invalidArgument('Invalid NextPageToken for this query.');
  return v as SqlValue[];
}

/** A Keyword-typed search attribute payload (as Temporal encodes GROUP BY values). */
function keywordPayload(value: string): any {
  return {
    metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from('Keyword') },
    data: Buffer.from(JSON.stringify(value)),
  };
}

export function visibilityHandlers(ctx: ServerContext): Record<string, Handler> {
  const db = ctx.store.db;
  const parse = (req: any): { namespace: string; f: ParsedQuery } => {
    const namespace = ctx.namespaces.get(req.namespace).name;
    return { namespace, f: parseQuery(req.query ?? '', { namespace, customTypes: ctx.searchAttributes }) };
  };

  const list = async (req: any) => {
    const { namespace, f } = parse(req);
    if (f.groupBy.length) throw invalidArgument("'GROUP BY' clause is only supported in CountWorkflowExecutions");
    const pageSize = req.pageSize > 0 ? Math.min(req.pageSize, MAX_PAGE) : MAX_PAGE;
    const last = decodeToken(req.nextPageToken, f.order.length);
    await ctx.store.commit();
    const after = last ? afterSql(f.order, last) : null;
    const keys = f.order.map((k, i) => `${k.expr} AS k${i}`).join(', ');
    const from = fromSql(f, namespace);
    const rows = db
      .prepare(
        `SELECT e.state, ${keys} ${from.sql}` +
          (after ? ` AND (${after.sql})` : '') +
          ` ORDER BY ${orderBySql(f.order)} LIMIT ?`,
      )
      .all(...from.params, ...(after?.params ?? []), pageSize + 1) as Record<string, any>[];
    const more = rows.length > pageSize;
    const page = rows.slice(0, pageSize);
    const tail = page[page.length - 1];
    return {
      executions: page.map((r) => workflowExecutionInfo(ctx, JSON.parse(r.state) as MutableState)),
      nextPageToken: more ? encodeToken(f.order.map((_, i) => tail[`k${i}`] as SqlValue)) : undefined,
    };
  };

  return {
    ListWorkflowExecutions: list,
    ScanWorkflowExecutions: list,
    CountWorkflowExecutions: async (req) => {
      const { namespace, f } = parse(req);
      await ctx.store.commit();
      const from = fromSql(f, namespace);
      if (!f.groupBy.length) {
        const row = db.prepare(`SELECT COUNT(*) AS n ${from.sql}`).get(...from.params) as { n: number };
        return { count: row.n };
      }
      const rows = db
        .prepare(`SELECT e.status AS g, COUNT(*) AS n ${from.sql} GROUP BY e.status ORDER BY n DESC, e.status`)
        .all(...from.params) as { g: number; n: number }[];
      return {
        count: rows.reduce((sum, r) => sum + r.n, 0),
        groups: rows.map((r) => ({ groupValues: [keywordPayload(statusName(r.g))], count: r.n })),
      };
    },
    GetSearchAttributes: () => ({
      keys: { ...SYSTEM_ATTRIBUTES, ...Object.fromEntries(ctx.searchAttributes) },
    }),
  };
}
