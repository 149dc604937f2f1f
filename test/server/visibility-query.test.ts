// The visibility query language end to end: custom search attributes registered through the
// OperatorService (and by --search-attribute on a separate server), set at start and upserted from
// workflows, then listed, counted, ordered, paged and grouped with the real SDK.
import { type WorkflowExecutionInfo } from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { startServer } from '../helpers/server';
import { finishSignal, searchAttributesWorkflow, upsertAttributesSignal } from '../workflows';

const IVT = temporal.api.enums.v1.IndexedValueType;
const keys = {
  run: defineSearchAttributeKey('VqRun', SearchAttributeType.KEYWORD),
  kw: defineSearchAttributeKey('VqKeyword', SearchAttributeType.KEYWORD),
  list: defineSearchAttributeKey('VqList', SearchAttributeType.KEYWORD_LIST),
  text: defineSearchAttributeKey('VqText', SearchAttributeType.TEXT),
  int: defineSearchAttributeKey('VqInt', SearchAttributeType.INT),
  dbl: defineSearchAttributeKey('VqDouble', SearchAttributeType.DOUBLE),
  bool: defineSearchAttributeKey('VqBool', SearchAttributeType.BOOL),
  time: defineSearchAttributeKey('VqTime', SearchAttributeType.DATETIME),
};

let ctx: TestContext;
const tag = randomUUID();
const scope = `VqRun = '${tag}'`;
const id = (n: string) => `vq-${tag}-${n}`;

async function list(where: string, pageSize?: number): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const wf of ctx.client.workflow.list({ query: where, pageSize })) out.push(wf);
  return out;
}
/** Workflow names (a, b, ...) matching `cond` among this file's runs, in the server's order. */
async function names(cond: string, order = ''): Promise<string[]> {
  const found = await list(`${scope}${cond ? ` AND (${cond})` : ''} ${order}`);
  return found.map((wf) => wf.workflowId.slice(id('').length));
}
const sorted = async (cond: string) => (await names(cond)).sort();
const count = async (cond: string) => (await ctx.client.workflow.count(`${scope} AND (${cond})`)).count;

async function eventually(check: () => Promise<void>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function rejection(query: string, op: 'list' | 'count' = 'list'): Promise<any> {
  const svc = ctx.connection.workflowService;
  try {
    if (op === 'list') await svc.listWorkflowExecutions({ namespace: 'default', query });
    else await svc.countWorkflowExecutions({ namespace: 'default', query });
  } catch (err) {
    return err;
  }
  throw new Error(`query was accepted: ${query}`);
}

beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: {
      VqRun: IVT.INDEXED_VALUE_TYPE_KEYWORD,
      VqKeyword: IVT.INDEXED_VALUE_TYPE_KEYWORD,
      VqList: IVT.INDEXED_VALUE_TYPE_KEYWORD_LIST,
      VqText: IVT.INDEXED_VALUE_TYPE_TEXT,
      VqInt: IVT.INDEXED_VALUE_TYPE_INT,
      VqDouble: IVT.INDEXED_VALUE_TYPE_DOUBLE,
      VqBool: IVT.INDEXED_VALUE_TYPE_BOOL,
      VqTime: IVT.INDEXED_VALUE_TYPE_DATETIME,
    },
  });
  const start = async (name: string, attrs: Array<{ key: any; value: any }>, initial?: Record<string, unknown[]>) => {
    await ctx.client.workflow.start(searchAttributesWorkflow, {
      taskQueue: ctx.taskQueue,
      workflowId: id(name),
      args: [initial as any],
      typedSearchAttributes: [{ key: keys.run, value: tag }, ...attrs],
    });
    await new Promise((r) => setTimeout(r, 5)); // distinct start times (millisecond resolution)
  };
  // Started one after another so that StartTime orders them a, b, c, d, e.
  await start('a', [
    { key: keys.kw, value: 'alpha' },
    { key: keys.list, value: ['red', 'green'] },
    { key: keys.text, value: 'The quick brown fox' },
    { key: keys.int, value: 1 },
    { key: keys.dbl, value: 1.5 },
    { key: keys.bool, value: true },
    { key: keys.time, value: new Date('2024-01-01T00:00:00Z') },
  ]);
  await start('b', [
    { key: keys.kw, value: 'alpine' },
    { key: keys.list, value: ['blue'] },
    { key: keys.text, value: 'a lazy dog' },
    { key: keys.int, value: 2 },
    { key: keys.dbl, value: 2.5 },
    { key: keys.bool, value: false },
    { key: keys.time, value: new Date('2024-06-01T12:00:00Z') },
  ]);
  await start('c', [
    { key: keys.kw, value: 'beta' },
    { key: keys.list, value: ['red'] },
    { key: keys.text, value: 'Quick thinking' },
    { key: keys.int, value: 3 },
    { key: keys.dbl, value: -1 },
    { key: keys.bool, value: true },
    { key: keys.time, value: new Date('2025-01-01T00:00:00Z') },
  ]);
  await start('d', []);
  // e gets its attributes from inside the workflow (UpsertWorkflowSearchAttributes).
  await start('e', [], { VqKeyword: ['upserted'], VqInt: [10], VqList: ['x', 'y'] });
  await eventually(async () => expect(await count("VqKeyword = 'upserted'")).toBe(1));

  // a completes, b is terminated; c, d, e stay running.
  await ctx.client.workflow.getHandle(id('a')).signal(finishSignal);
  await ctx.client.workflow.getHandle(id('a')).result();
  await ctx.client.workflow.getHandle(id('b')).terminate('visibility query test');
});

afterAll(async () => {
  if (!ctx) return;
  for (const n of ['c', 'd', 'e'])
    await ctx.client.workflow
      .getHandle(id(n))
      .terminate('cleanup')
      .catch(() => undefined);
  await ctx.close();
});

describe('custom search attributes', () => {
  it('are registered through the OperatorService and listed by GetSearchAttributes', async () => {
    const listed = await ctx.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(listed.customAttributes).toMatchObject({
      VqKeyword: IVT.INDEXED_VALUE_TYPE_KEYWORD,
      VqList: IVT.INDEXED_VALUE_TYPE_KEYWORD_LIST,
      VqText: IVT.INDEXED_VALUE_TYPE_TEXT,
      VqInt: IVT.INDEXED_VALUE_TYPE_INT,
      VqDouble: IVT.INDEXED_VALUE_TYPE_DOUBLE,
      VqBool: IVT.INDEXED_VALUE_TYPE_BOOL,
      VqTime: IVT.INDEXED_VALUE_TYPE_DATETIME,
    });
    expect(listed.systemAttributes).toMatchObject({ WorkflowId: IVT.INDEXED_VALUE_TYPE_KEYWORD });
    const all = await ctx.connection.workflowService.getSearchAttributes({});
    expect(all.keys).toMatchObject({
      VqKeyword: IVT.INDEXED_VALUE_TYPE_KEYWORD,
      StartTime: IVT.INDEXED_VALUE_TYPE_DATETIME,
    });
    // Adding again is a no-op; reserved names are refused.
    await ctx.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: { VqKeyword: IVT.INDEXED_VALUE_TYPE_KEYWORD },
    });
    await expect(
      ctx.connection.operatorService.addSearchAttributes({
        namespace: 'default',
        searchAttributes: { WorkflowId: IVT.INDEXED_VALUE_TYPE_KEYWORD },
      }),
    ).rejects.toThrow(/reserved/);
  });

  it('come back typed in list results', async () => {
    const [a] = await list(`${scope} AND WorkflowId = '${id('a')}'`);
    expect(a.typedSearchAttributes.get(keys.kw)).toBe('alpha');
    expect(a.typedSearchAttributes.get(keys.list)).toEqual(['red', 'green']);
    expect(a.typedSearchAttributes.get(keys.int)).toBe(1);
    expect(a.typedSearchAttributes.get(keys.bool)).toBe(true);
    expect(a.typedSearchAttributes.get(keys.time)?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    const [e] = await list(`${scope} AND WorkflowId = '${id('e')}'`);
    expect(e.typedSearchAttributes.get(keys.kw)).toBe('upserted');
  });

  it('Keyword: = != IN NOT IN STARTS_WITH IS NULL', async () => {
    expect(await sorted("VqKeyword = 'alpha'")).toEqual(['a']);
    expect(await sorted("VqKeyword != 'alpha'")).toEqual(['b', 'c', 'e']);
    expect(await sorted("VqKeyword IN ('alpha', 'beta', 'nope')")).toEqual(['a', 'c']);
    expect(await sorted("VqKeyword NOT IN ('alpha', 'beta')")).toEqual(['b', 'e']);
    expect(await sorted("VqKeyword STARTS_WITH 'alp'")).toEqual(['a', 'b']);
    expect(await sorted("VqKeyword NOT STARTS_WITH 'alp'")).toEqual(['c', 'e']);
    expect(await sorted('VqKeyword IS NULL')).toEqual(['d']);
    expect(await sorted('VqKeyword IS NOT NULL')).toEqual(['a', 'b', 'c', 'e']);
    expect(await sorted("VqKeyword > 'alpine'")).toEqual(['c', 'e']);
  });

  it('Int, Double, Bool and Datetime comparisons', async () => {
    expect(await sorted('VqInt > 1')).toEqual(['b', 'c', 'e']);
    expect(await sorted('VqInt >= 2 AND VqInt <= 3')).toEqual(['b', 'c']);
    expect(await sorted('VqInt < 2')).toEqual(['a']);
    expect(await sorted('VqInt BETWEEN 2 AND 10')).toEqual(['b', 'c', 'e']);
    expect(await sorted('VqInt NOT BETWEEN 2 AND 3')).toEqual(['a', 'e']);
    expect(await sorted('VqInt IN (1, 10)')).toEqual(['a', 'e']);
    expect(await sorted('VqInt != 1')).toEqual(['b', 'c', 'e']);
    expect(await sorted('VqDouble > 0')).toEqual(['a', 'b']);
    expect(await sorted('VqDouble <= -1')).toEqual(['c']);
    expect(await sorted('VqDouble = 2.5')).toEqual(['b']);
    expect(await sorted('VqBool = true')).toEqual(['a', 'c']);
    expect(await sorted('VqBool = false')).toEqual(['b']);
    expect(await sorted("VqTime >= '2024-06-01T12:00:00Z'")).toEqual(['b', 'c']);
    expect(await sorted("VqTime < '2024-06-01T12:00:00.001Z'")).toEqual(['a', 'b']);
    expect(await sorted("VqTime BETWEEN '2024-02-01T00:00:00Z' AND '2024-12-31T23:59:59+01:00'")).toEqual(['b']);
  });

  it('KeywordList matches any element; Text matches words', async () => {
    expect(await sorted("VqList = 'red'")).toEqual(['a', 'c']);
    expect(await sorted("VqList IN ('green', 'blue')")).toEqual(['a', 'b']);
    expect(await sorted("VqList != 'red'")).toEqual(['b', 'd', 'e']);
    expect(await sorted("VqList NOT IN ('red', 'x')")).toEqual(['b', 'd']);
    expect(await sorted("VqText = 'quick'")).toEqual(['a', 'c']);
    expect(await sorted("VqText = 'DOG'")).toEqual(['b']);
    expect(await sorted("VqText = 'fox thinking'")).toEqual(['a', 'c']);
    expect(await sorted("VqText != 'quick'")).toEqual(['b', 'd', 'e']);
  });

  it('combines with built-ins, AND, OR, NOT and parentheses', async () => {
    expect(await sorted("ExecutionStatus = 'Running'")).toEqual(['c', 'd', 'e']);
    expect(await sorted("ExecutionStatus = 'Completed' OR ExecutionStatus = 'Terminated'")).toEqual(['a', 'b']);
    expect(await sorted("(VqInt = 1 OR VqInt = 3) AND ExecutionStatus = 'Running'")).toEqual(['c']);
    expect(await sorted("VqInt = 1 OR VqInt = 3 AND ExecutionStatus = 'Running'")).toEqual(['a', 'c']);
    expect(await sorted("NOT (VqList = 'red') AND VqKeyword IS NOT NULL")).toEqual(['b', 'e']);
    expect(await sorted('CloseTime IS NOT NULL')).toEqual(['a', 'b']);
    expect(await sorted(`WorkflowId STARTS_WITH '${id('')}' AND RunId IS NOT NULL`)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await sorted(`WorkflowType = 'searchAttributesWorkflow' AND TaskQueue = '${ctx.taskQueue}'`)).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    expect(await sorted("StartTime > '2000-01-01T00:00:00Z' AND ExecutionTime IS NOT NULL")).toHaveLength(5);
    expect(await count("VqList = 'red'")).toBe(2);
    expect(await count("VqKeyword STARTS_WITH 'alp' AND ExecutionStatus != 'Completed'")).toBe(1);
  });

  it('ORDER BY built-in and custom attributes', async () => {
    expect(await names('', 'ORDER BY StartTime ASC')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await names('', 'ORDER BY StartTime DESC')).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(await names('', '')).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(await names('VqInt IS NOT NULL', 'ORDER BY VqInt DESC')).toEqual(['e', 'c', 'b', 'a']);
    expect(await names('VqDouble IS NOT NULL', 'ORDER BY VqDouble')).toEqual(['c', 'a', 'b']);
    expect(await names('VqKeyword IS NOT NULL', 'ORDER BY VqKeyword ASC')).toEqual(['a', 'b', 'c', 'e']);
    expect(await names('VqTime IS NOT NULL', 'ORDER BY VqTime DESC')).toEqual(['c', 'b', 'a']);
    // Runs without the attribute sort first ascending (NULL is smallest), last descending.
    expect(await names('', 'ORDER BY VqInt ASC, StartTime ASC')).toEqual(['d', 'a', 'b', 'c', 'e']);
    expect(await names('CloseTime IS NOT NULL', 'ORDER BY CloseTime DESC')).toEqual(['b', 'a']);
  });

  it('pages with small page sizes (list and scan)', async () => {
    for (const order of ['', 'ORDER BY VqInt ASC', 'ORDER BY CloseTime DESC', 'ORDER BY StartTime ASC']) {
      const all = await names('', order);
      const paged = (await list(`${scope} ${order}`, 2)).map((wf) => wf.workflowId.slice(id('').length));
      expect(paged, order).toEqual(all);
    }
    const svc = ctx.connection.workflowService;
    const seen: string[] = [];
    let token: Uint8Array | undefined;
    let pages = 0;
    do {
      const res = await svc.scanWorkflowExecutions({
        namespace: 'default',
        query: `${scope} ORDER BY StartTime ASC`,
        pageSize: 2,
        nextPageToken: token,
      });
      seen.push(...res.executions!.map((e) => e.execution!.workflowId!.slice(id('').length)));
      token = res.nextPageToken?.length ? res.nextPageToken : undefined;
      pages++;
    } while (token);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(3);
    const bad = await svc
      .listWorkflowExecutions({ namespace: 'default', query: scope, nextPageToken: Buffer.from('garbage') })
      .catch((e) => e);
    expect(bad.code).toBe(3);
  });

  it('counts with GROUP BY ExecutionStatus', async () => {
    const res = await ctx.client.workflow.count(`${scope} GROUP BY ExecutionStatus`);
    expect(res.count).toBe(5);
    const groups = Object.fromEntries(res.groups.map((g) => [String(g.groupValues[0]), g.count]));
    expect(groups).toEqual({ Running: 3, Completed: 1, Terminated: 1 });
    const raw = await ctx.connection.workflowService.countWorkflowExecutions({
      namespace: 'default',
      query: `${scope} AND VqBool = true GROUP BY ExecutionStatus`,
    });
    expect(Number(raw.count)).toBe(2);
    const g = raw.groups!.map((x) => ({
      value: JSON.parse(Buffer.from(x.groupValues![0].data!).toString()),
      type: Buffer.from(x.groupValues![0].metadata!.type!).toString(),
      count: Number(x.count),
    }));
    expect(g.sort((x, y) => x.value.localeCompare(y.value))).toEqual([
      { value: 'Completed', type: 'Keyword', count: 1 },
      { value: 'Running', type: 'Keyword', count: 1 },
    ]);
    const sys = await ctx.connection.workflowService.getSystemInfo({});
    expect(sys.capabilities?.countGroupByExecutionStatus).toBe(true);
  });

  it('follows upserts from the workflow (change and removal)', async () => {
    const handle = ctx.client.workflow.getHandle(id('c'));
    await handle.signal(upsertAttributesSignal, { VqKeyword: ['gamma'], VqInt: [] });
    await eventually(async () => expect(await sorted("VqKeyword = 'gamma'")).toEqual(['c']));
    expect(await sorted("VqKeyword = 'beta'")).toEqual([]);
    expect(await sorted('VqInt IS NULL')).toEqual(['c', 'd']);
    const [c] = await list(`${scope} AND WorkflowId = '${id('c')}'`);
    expect(c.typedSearchAttributes.get(keys.int)).toBeUndefined();
    expect(c.typedSearchAttributes.get(keys.kw)).toBe('gamma');
  });

  it('rejects bad queries with INVALID_ARGUMENT saying where', async () => {
    const cases: Array<[string, RegExp]> = [
      ["VqKeyword = 'a' AND", /position 20/],
      ["VqKeyword = 'a' VqInt = 1", /position 17/],
      ['VqInt > ', /position 9: expected a value at end of query/],
      ["NoSuchAttribute = 'x'", /position 1: column name 'NoSuchAttribute' is not a valid search attribute/],
      ["VqText > 'x'", /position 8: operator '>' is not supported for Text/],
      ["VqInt = 'x'", /position 9: invalid value 'x' for VqInt/],
      ['VqKeyword = unquoted', /position 13: .*did you forget to quote/],
      ["WorkflowId = 'x' GROUP BY ExecutionStatus", /GROUP BY/],
    ];
    for (const [query, message] of cases) {
      const err = await rejection(query);
      expect(err.code, query).toBe(3);
      expect(err.details ?? err.message, query).toMatch(message);
    }
    const err = await rejection('GROUP BY WorkflowId', 'count');
    expect(err.code).toBe(3);
    expect(err.details).toMatch(/only supported for ExecutionStatus/);
  });
});

describe('search attribute validation', () => {
  it('refuses a start with an unregistered attribute or a value of the wrong type', async () => {
    const start = (searchAttributes: Record<string, unknown[]>) =>
      ctx.client.workflow
        .start(searchAttributesWorkflow, {
          taskQueue: ctx.taskQueue,
          workflowId: id(`bad-${randomUUID()}`),
          searchAttributes: searchAttributes as any,
        })
        .catch((e: Error) => (e.cause as Error).message);
    expect(await start({ NotRegisteredAnywhere: ['x'] })).toMatch(
      /INVALID_ARGUMENT: search attribute NotRegisteredAnywhere is not defined/,
    );
    expect(await start({ VqInt: ['not a number'] })).toMatch(
      /INVALID_ARGUMENT: invalid value for search attribute VqInt/,
    );
  });

  it('fails the workflow task of an upsert with an unregistered attribute, then accepts a good one', async () => {
    const handle = await ctx.client.workflow.start(searchAttributesWorkflow, {
      taskQueue: ctx.taskQueue,
      workflowId: id(`bad-upsert-${randomUUID()}`),
    });
    await handle.signal(upsertAttributesSignal, { NotRegisteredAnywhere: ['x'] } as any);
    await eventually(async () => {
      const events = (await handle.fetchHistory()).events!;
      const failed = events.find((e) => e.workflowTaskFailedEventAttributes);
      expect(failed?.workflowTaskFailedEventAttributes?.cause).toBe(
        temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
      );
    });
    await handle.terminate();
  });
});

describe('--search-attribute', () => {
  it('registers attributes at start; registrations persist across restarts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'longhaul-sa-'));
    const dbFile = path.join(dir, 'db.sqlite');
    let server = await startServer({
      dbFile,
      args: ['--search-attribute', 'FlagKeyword=Keyword', '--search-attribute', 'FlagInt=Int'],
    });
    const { Client, Connection } = await import('@temporalio/client');
    try {
      let connection = await Connection.connect({ address: server.address });
      let client = new Client({ connection });
      const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(listed.customAttributes).toEqual({
        FlagKeyword: IVT.INDEXED_VALUE_TYPE_KEYWORD,
        FlagInt: IVT.INDEXED_VALUE_TYPE_INT,
      });
      await connection.operatorService.addSearchAttributes({
        namespace: 'default',
        searchAttributes: { AddedLater: IVT.INDEXED_VALUE_TYPE_BOOL },
      });
      // No worker polls this queue: the workflows stay Running.
      for (const [n, kw, i] of [
        ['one', 'x', 1],
        ['two', 'y', 2],
      ] as const)
        await client.workflow.start('noSuchWorkflow', {
          taskQueue: 'nobody',
          workflowId: `flag-${n}`,
          typedSearchAttributes: [
            { key: defineSearchAttributeKey('FlagKeyword', SearchAttributeType.KEYWORD), value: kw },
            { key: defineSearchAttributeKey('FlagInt', SearchAttributeType.INT), value: i },
            { key: defineSearchAttributeKey('AddedLater', SearchAttributeType.BOOL), value: i === 2 },
          ],
        });
      expect((await client.workflow.count("FlagKeyword = 'y'")).count).toBe(1);
      await connection.close();
      await server.stop();

      // Restart without the flags: everything registered is still there, and still indexed.
      server = await startServer({ dbFile });
      connection = await Connection.connect({ address: server.address });
      client = new Client({ connection });
      const after = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(after.customAttributes).toEqual({
        FlagKeyword: IVT.INDEXED_VALUE_TYPE_KEYWORD,
        FlagInt: IVT.INDEXED_VALUE_TYPE_INT,
        AddedLater: IVT.INDEXED_VALUE_TYPE_BOOL,
      });
      expect((await client.workflow.count("FlagKeyword = 'y' AND FlagInt = 2 AND AddedLater = true")).count).toBe(1);
      expect((await client.workflow.count('FlagInt >= 1')).count).toBe(2);

      await connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['FlagInt'] });
      const removed = await connection.workflowService
        .countWorkflowExecutions({ namespace: 'default', query: 'FlagInt >= 1' })
        .catch((e) => e);
      expect(removed.code).toBe(3);
      await connection.close();
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
