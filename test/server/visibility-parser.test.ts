// The visibility query language at unit level: parsing, errors with positions, the SQL it produces,
// and that custom-attribute lookups use the index (EXPLAIN QUERY PLAN over an in-memory store).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../server/store/store';
import { afterSql, fromSql, orderBySql, parseQuery, type ParsedQuery } from '../../server/visibility/query';
import { T, indexValues, textTokens, validateSearchAttributes } from '../../server/visibility/search-attributes';

const customTypes = new Map<string, number>([
  ['CustomKeyword', T.INDEXED_VALUE_TYPE_KEYWORD],
  ['CustomList', T.INDEXED_VALUE_TYPE_KEYWORD_LIST],
  ['CustomText', T.INDEXED_VALUE_TYPE_TEXT],
  ['CustomInt', T.INDEXED_VALUE_TYPE_INT],
  ['CustomDouble', T.INDEXED_VALUE_TYPE_DOUBLE],
  ['CustomBool', T.INDEXED_VALUE_TYPE_BOOL],
  ['CustomDatetime', T.INDEXED_VALUE_TYPE_DATETIME],
]);
const parse = (q: string) => parseQuery(q, { namespace: 'ns', customTypes });

function errorOf(q: string): string {
  try {
    parse(q);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`query was accepted: ${q}`);
}

describe('visibility query parser', () => {
  it('accepts every operator on built-in and custom attributes', () => {
    for (const q of [
      '',
      "WorkflowId = 'a'",
      "WorkflowId != 'a' AND WorkflowType <> 'b'",
      "StartTime > '2024-01-01T00:00:00Z' AND CloseTime <= '2025-01-01T00:00:00.123456789Z'",
      "ExecutionStatus IN ('Running', 'Completed') OR ExecutionStatus NOT IN ('Failed')",
      "ExecutionTime BETWEEN '2024-01-01T00:00:00Z' AND '2024-02-01T00:00:00Z'",
      "WorkflowId STARTS_WITH 'order-' AND TaskQueue NOT STARTS_WITH 'x'",
      'CloseTime IS NULL OR CloseTime IS NOT NULL',
      "CustomKeyword = 'x' AND (CustomInt >= 3 OR CustomDouble < 1.5e3) AND CustomBool = true",
      "CustomList IN ('a', 'b') AND CustomList != 'c' AND CustomList NOT IN ('d')",
      "CustomText = 'quick fox' AND CustomText != 'slow'",
      "CustomDatetime BETWEEN '2024-01-01T00:00:00Z' AND '2025-01-01T00:00:00Z' AND CustomInt NOT BETWEEN 1 AND 2",
      'CustomKeyword IS NULL AND CustomInt IS NOT NULL',
      "NOT (CustomKeyword = 'x') AND `CustomInt` = -4",
      'ORDER BY StartTime ASC',
      "CustomKeyword = 'x' ORDER BY CustomInt DESC, StartTime",
      'GROUP BY ExecutionStatus',
      "WorkflowType = 'x' GROUP BY ExecutionStatus",
    ])
      expect(() => parse(q), q).not.toThrow();
  });

  it('converts literals by attribute type', () => {
    expect(parse("ExecutionStatus = 'Running'").params).toEqual([1]);
    expect(parse("ExecutionStatus = 'TimedOut'").params).toEqual([7]);
    expect(parse("StartTime > '2024-01-01T00:00:00Z'").params).toEqual([Date.parse('2024-01-01T00:00:00Z')]);
    expect(parse('StartTime > 1704067200000000000').params).toEqual([1704067200000]);
    expect(parse('CustomBool = false').driver!.params).toEqual(['ns', 'CustomBool', 0]);
    // Text matches any of the query's words, case-insensitively.
    expect(parse("CustomText = 'Quick, FOX!'").driver!.params).toEqual(['ns', 'CustomText', 'quick', 'fox']);
  });

  it('rejects malformed queries saying where and why', () => {
    expect(errorOf("WorkflowId = 'a' AND")).toMatch(/position 21: expected a search attribute name at end of query/);
    expect(errorOf("WorkflowId 'a'")).toMatch(/position 12: expected an operator after WorkflowId/);
    expect(errorOf("WorkflowId = 'a")).toMatch(/position 14: unterminated string/);
    expect(errorOf("(WorkflowId = 'a'")).toMatch(/position 18: expected '\)'/);
    expect(errorOf("WorkflowId = 'a' WorkflowType = 'b'")).toMatch(/position 18: expected 'AND', 'OR' or the end/);
    expect(errorOf('WorkflowId = abc')).toMatch(/position 14: .*did you forget to quote/);
    expect(errorOf("Nope = 'x'")).toMatch(/position 1: column name 'Nope' is not a valid search attribute/);
    expect(errorOf("CustomInt = 'x'")).toMatch(/position 13: invalid value 'x' for CustomInt: expected an integer/);
    expect(errorOf("CustomText > 'x'")).toMatch(/position 12: operator '>' is not supported for Text/);
    expect(errorOf("CustomList < 'x'")).toMatch(/operator '<' is not supported for KeywordList/);
    expect(errorOf("ExecutionStatus = 'Sleeping'")).toMatch(/not an execution status/);
    expect(errorOf("StartTime > 'yesterday'")).toMatch(/expected an RFC 3339 time/);
    expect(errorOf('GROUP BY WorkflowType')).toMatch(/only supported for ExecutionStatus/);
    expect(errorOf('ORDER BY CustomText')).toMatch(/cannot order by Text/);
    expect(errorOf("WorkflowId = 'a' ORDER StartTime")).toMatch(/expected 'BY'/);
    expect(errorOf('WorkflowId # 1')).toMatch(/position 12: unexpected character '#'/);
  });

  it('orders by start time (newest first) unless told otherwise, with run id as tie-breaker', () => {
    expect(orderBySql(parse('').order)).toBe('e.start_time DESC, e.run_id DESC');
    expect(orderBySql(parse('ORDER BY CloseTime ASC').order)).toBe('e.close_time ASC, e.run_id ASC');
  });
});

describe('visibility SQL over the store', () => {
  let store: Store;
  const N = 3000;

  beforeAll(() => {
    store = new Store(null, (err) => {
      throw err;
    });
    const db = store.db;
    const exec = db.prepare(
      `INSERT INTO executions (run_id, namespace, workflow_id, workflow_type, task_queue, status, start_time, execution_time, close_time, state)
       VALUES (?, 'ns', ?, 'T', 'q', ?, ?, ?, ?, ?)`,
    );
    const sa = db.prepare(`INSERT INTO search_attributes (namespace, name, value, run_id) VALUES ('ns', ?, ?, ?)`);
    db.transaction(() => {
      for (let i = 0; i < N; i++) {
        const runId = `run-${String(i).padStart(5, '0')}`;
        exec.run(runId, `wf-${i}`, i % 3 === 0 ? 2 : 1, i, i, i % 3 === 0 ? i + 1 : null, JSON.stringify({ i }));
        sa.run('CustomKeyword', `k${i % 100}`, runId);
        if (i % 2 === 0) sa.run('CustomInt', i, runId);
        for (const w of indexValues(T.INDEXED_VALUE_TYPE_TEXT, `word${i % 10} common`)) sa.run('CustomText', w, runId);
      }
    })();
  });
  afterAll(() => store.close());

  const run = (f: ParsedQuery, limit = 10_000) => {
    const from = fromSql(f, 'ns');
    const sql = `SELECT e.run_id ${from.sql} ORDER BY ${orderBySql(f.order)} LIMIT ?`;
    return {
      rows: (store.db.prepare(sql).all(...from.params, limit) as { run_id: string }[]).map((r) => r.run_id),
      plan: (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...from.params, limit) as { detail: string }[]).map(
        (r) => r.detail,
      ),
    };
  };

  it('finds runs by keyword through the index, not by scanning executions', () => {
    const { rows, plan } = run(parse("CustomKeyword = 'k7' AND ExecutionStatus = 'Running'"));
    expect(rows.length).toBe(20); // i ≡ 7 (mod 100) and i ≢ 0 (mod 3): 30 - 10
    expect(plan.some((d) => /SEARCH s USING PRIMARY KEY \(namespace=\? AND name=\? AND value=\?\)/.test(d))).toBe(true);
    expect(plan.some((d) => /SEARCH e USING .*\(run_id=\?\)/.test(d))).toBe(true);
    expect(plan.some((d) => /^SCAN e\b/.test(d) || /executions_by_start/.test(d))).toBe(false);
  });

  it('uses the index for ranges, prefixes and IN lists too', () => {
    for (const q of [
      'CustomInt BETWEEN 10 AND 20',
      "CustomKeyword STARTS_WITH 'k1'",
      "CustomKeyword IN ('k1', 'k2')",
    ]) {
      const { plan } = run(parse(q));
      expect(
        plan.some((d) => /SEARCH s USING PRIMARY KEY/.test(d)),
        q,
      ).toBe(true);
      expect(
        plan.some((d) => /^SCAN e\b/.test(d)),
        q,
      ).toBe(false);
    }
    expect(run(parse('CustomInt BETWEEN 10 AND 20')).rows.length).toBe(6);
    expect(run(parse("CustomKeyword STARTS_WITH 'k1'")).rows.length).toBe(11 * 30);
    expect(run(parse("CustomText = 'word3'")).rows.length).toBe(300);
    expect(run(parse("CustomText = 'word3 word4'")).rows.length).toBe(600);
    expect(run(parse("CustomText != 'word3'")).rows.length).toBe(N - 300);
    expect(run(parse('CustomInt IS NULL')).rows.length).toBe(N / 2);
  });

  it('pages with keyset tokens in any order', () => {
    for (const q of ['', 'ORDER BY CustomInt DESC', 'ORDER BY CloseTime ASC', 'ORDER BY CloseTime DESC']) {
      const f = parse(q);
      const all = run(f).rows;
      const seen: string[] = [];
      let last: (string | number | null)[] | null = null;
      for (;;) {
        const from = fromSql(f, 'ns');
        const after = last ? afterSql(f.order, last) : null;
        const keys = f.order.map((k, i) => `${k.expr} AS k${i}`).join(', ');
        const page = store.db
          .prepare(
            `SELECT e.run_id, ${keys} ${from.sql}${after ? ` AND (${after.sql})` : ''} ORDER BY ${orderBySql(f.order)} LIMIT 700`,
          )
          .all(...from.params, ...(after?.params ?? [])) as Record<string, any>[];
        if (!page.length) break;
        seen.push(...page.map((r) => r.run_id));
        last = f.order.map((_, i) => page[page.length - 1][`k${i}`]);
      }
      expect(seen, q).toEqual(all);
      expect(seen.length).toBe(N);
    }
  });

  it('tokenizes text into lower-case words', () => {
    expect(textTokens('The quick-brown FOX, the end')).toEqual(['the', 'quick', 'brown', 'fox', 'end']);
  });
});

describe('search attribute validation', () => {
  const payload = (v: unknown, type?: string) => ({
    metadata: { encoding: Buffer.from('json/plain'), ...(type ? { type: Buffer.from(type) } : {}) },
    data: Buffer.from(JSON.stringify(v)),
  });
  const types = new Map([
    ['K', T.INDEXED_VALUE_TYPE_KEYWORD],
    ['I', T.INDEXED_VALUE_TYPE_INT],
    ['D', T.INDEXED_VALUE_TYPE_DATETIME],
  ]);
  it('accepts registered attributes with fitting values (legacy arrays too) and rejects the rest', () => {
    expect(() =>
      validateSearchAttributes(types, {
        indexedFields: { K: payload('x', 'Keyword'), I: payload([3]), D: payload('2024-01-01T00:00:00Z') },
      }),
    ).not.toThrow();
    expect(() => validateSearchAttributes(types, { indexedFields: { Nope: payload('x') } })).toThrow(/not defined/);
    expect(() => validateSearchAttributes(types, { indexedFields: { I: payload('x') } })).toThrow(/of type Int/);
    expect(() => validateSearchAttributes(types, { indexedFields: { D: payload('soon') } })).toThrow(/Datetime/);
  });
});
