// Visibility RPCs: list and count executions with Temporal's filter language (see visibility/query.ts).
import { invalidArgument, type Handler } from '../grpc';
import type { Execution } from '../history/execution';
import type { MutableState } from '../history/state';
import { Memo, SearchAttributes, enums, fromB64, msToDuration, msToTimestamp } from '../proto';
import { parseQuery } from '../visibility/query';
import type { ServerContext } from '../context';

export function workflowExecutionInfo(_ctx: ServerContext, exec: Execution | MutableState): any {
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
    searchAttributes: fromB64(SearchAttributes, ms.searchAttributes) ?? undefined,
    taskQueue: ms.taskQueue,
    stateTransitionCount: ms.stateTransitions,
    historySizeBytes: ms.historySizeBytes,
    executionDuration: ms.closeTime !== null ? msToDuration(ms.closeTime - ms.executionTime) : undefined,
    rootExecution: { workflowId: ms.workflowId, runId: ms.runId },
    firstRunId: ms.firstRunId,
  };
}

const MAX_PAGE = 1000;

export function visibilityHandlers(ctx: ServerContext): Record<string, Handler> {
  const db = ctx.store.db;
  const nsOf = (req: any) => ctx.namespaces.get(req.namespace).name;

  const list = async (req: any) => {
    const namespace = nsOf(req);
    const f = parseQuery(req.query ?? '');
    await ctx.store.commit();
    const pageSize = req.pageSize > 0 ? Math.min(req.pageSize, MAX_PAGE) : MAX_PAGE;
    const offset = req.nextPageToken?.length ? Number(Buffer.from(req.nextPageToken).toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('invalid next page token');
    const rows = db
      .prepare(
        `SELECT state FROM executions WHERE namespace = ? AND (${f.where}) ORDER BY ${f.orderBy} LIMIT ? OFFSET ?`,
      )
      .all(namespace, ...f.params, pageSize + 1, offset) as { state: string }[];
    const more = rows.length > pageSize;
    return {
      executions: rows.slice(0, pageSize).map((r) => workflowExecutionInfo(ctx, JSON.parse(r.state) as MutableState)),
      nextPageToken: more ? Buffer.from(String(offset + pageSize)) : undefined,
    };
  };

  return {
    ListWorkflowExecutions: list,
    ScanWorkflowExecutions: list,
    CountWorkflowExecutions: async (req) => {
      const namespace = nsOf(req);
      const f = parseQuery(req.query ?? '');
      await ctx.store.commit();
      const row = db
        .prepare(`SELECT COUNT(*) AS n FROM executions WHERE namespace = ? AND (${f.where})`)
        .get(namespace, ...f.params) as { n: number };
      return { count: row.n };
    },
    GetSearchAttributes: () => ({
      keys: {
        WorkflowId: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        WorkflowType: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        RunId: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        TaskQueue: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ExecutionStatus: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        StartTime: enums.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        CloseTime: enums.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        ExecutionTime: enums.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        ...Object.fromEntries(ctx.searchAttributes),
      },
    }),
  };
}
