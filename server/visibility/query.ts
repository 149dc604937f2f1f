// Temporal's list filter language → parameterised SQL over the executions table (alias `e`) and the
// custom search attribute index (`search_attributes`, one row per run/attribute/value).
//
// Supported: =, !=, <>, <, <=, >, >=, [NOT] IN (...), [NOT] BETWEEN a AND b, [NOT] STARTS_WITH,
// IS [NOT] NULL, AND, OR, NOT, parentheses, ORDER BY a [ASC|DESC], ... and GROUP BY ExecutionStatus
// (count only), over the built-in attributes and registered custom ones (Keyword, KeywordList, Text,
// Int, Double, Bool, Datetime). Semantics follow Temporal's SQL visibility: KeywordList `=`/IN match
// any element and `!=`/NOT IN mean "no element matches"; Text `=` matches any of the query's words
// (case-insensitive) and `!=` none of them; other comparisons on a custom attribute only match runs
// where it is set. Errors are INVALID_ARGUMENT and say where (1-based character position) and why.
import { invalidArgument } from '../grpc';
import { enums } from '../proto';
import { SYSTEM_ATTRIBUTES, T, textTokens, typeName } from './search-attributes';

type Token = {
  kind: 'ident' | 'string' | 'number' | 'op' | 'lparen' | 'rparen' | 'comma' | 'kw';
  text: string;
  pos: number;
};

export type SqlValue = string | number | null;

const KEYWORDS = new Set([
  'AND',
  'OR',
  'ORDER',
  'GROUP',
  'BY',
  'ASC',
  'DESC',
  'IN',
  'BETWEEN',
  'IS',
  'NOT',
  'NULL',
  'STARTS_WITH',
]);

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let s = '';
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === '\\' && i + 1 < q.length) i++;
        s += q[i++];
      }
      if (i >= q.length) throw bad(q, start, 'unterminated string');
      i++;
      out.push({ kind: 'string', text: s, pos: start });
    } else if (c === '`') {
      const end = q.indexOf('`', i + 1);
      if (end < 0) throw bad(q, start, 'unterminated backquote');
      out.push({ kind: 'ident', text: q.slice(i + 1, end), pos: start });
      i = end + 1;
    } else if (c === '(') out.push({ kind: 'lparen', text: c, pos: i++ });
    else if (c === ')') out.push({ kind: 'rparen', text: c, pos: i++ });
    else if (c === ',') out.push({ kind: 'comma', text: c, pos: i++ });
    else if ('=!<>'.includes(c)) {
      const two = q.slice(i, i + 2);
      const op = ['!=', '<=', '>=', '<>'].includes(two) ? two : c;
      if (op === '!') throw bad(q, start, "expected '!='");
      i += op.length;
      out.push({ kind: 'op', text: op === '<>' ? '!=' : op, pos: start });
    } else if (/[0-9]/.test(c) || ((c === '-' || c === '.') && /[0-9]/.test(q[i + 1] ?? ''))) {
      i++;
      while (i < q.length && /[0-9.eE]/.test(q[i])) {
        if ((q[i] === 'e' || q[i] === 'E') && /[+-]/.test(q[i + 1] ?? '')) i++;
        i++;
      }
      const text = q.slice(start, i);
      if (!Number.isFinite(Number(text))) throw bad(q, start, `invalid number '${text}'`);
      out.push({ kind: 'number', text, pos: start });
    } else if (/[A-Za-z_]/.test(c)) {
      while (i < q.length && /[A-Za-z0-9_.]/.test(q[i])) i++;
      const text = q.slice(start, i);
      out.push({ kind: KEYWORDS.has(text.toUpperCase()) ? 'kw' : 'ident', text, pos: start });
    } else throw bad(q, start, `unexpected character '${c}'`);
  }
  return out;
}

function bad(q: string, pos: number, what: string) {
  return invalidArgument(`invalid query at position ${pos + 1}: ${what} (query: ${q})`);
}

/** Built-in attributes: the executions column each reads. */
const BUILTIN_COLUMNS: Record<string, { column: string; nullable: boolean }> = {
  WorkflowId: { column: 'e.workflow_id', nullable: false },
  WorkflowType: { column: 'e.workflow_type', nullable: false },
  RunId: { column: 'e.run_id', nullable: false },
  TaskQueue: { column: 'e.task_queue', nullable: false },
  ExecutionStatus: { column: 'e.status', nullable: false },
  StartTime: { column: 'e.start_time', nullable: false },
  CloseTime: { column: 'e.close_time', nullable: true },
  ExecutionTime: { column: 'e.execution_time', nullable: false },
};

const STATUS_NAMES: Record<string, number> = {
  running: 1,
  completed: 2,
  failed: 3,
  canceled: 4,
  terminated: 5,
  continuedasnew: 6,
  timedout: 7,
};

/** "Running", "Completed", ... as Temporal names statuses in queries and GROUP BY results. */
export function statusName(status: number): string {
  const names = ['Unspecified', 'Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew'];
  return status === 7 ? 'TimedOut' : (names[status] ?? String(status));
}

/** One ORDER BY key: its SQL expression (no parameters), direction, and whether it can be NULL. */
export interface SortKey {
  expr: string;
  dir: 'ASC' | 'DESC';
  nullable: boolean;
}

export interface ParsedQuery {
  /** Condition over `executions e` (without the namespace filter), with its positional parameters. */
  where: string;
  params: SqlValue[];
  /** Sort keys, the last always `e.run_id` (unique), so that keyset paging is exact. */
  order: SortKey[];
  /** GROUP BY attributes (only ExecutionStatus is accepted). */
  groupBy: string[];
  /**
   * A selective index lookup (SELECT run_id FROM search_attributes ...) that every matching run
   * satisfies, already removed from `where`: the query should start from it (see `fromSql`).
   */
  driver?: { sql: string; params: SqlValue[] };
}

/** A parsed (sub)expression: SQL with its own parameters. */
interface Node {
  sql: string;
  params: SqlValue[];
  /** For a positive custom-attribute lookup: the run_id subquery it tests membership in. */
  driver?: { sql: string; params: SqlValue[] };
  /** For a custom-attribute lookup: the same test as a per-run probe (cheaper once a driver narrowed the runs). */
  perRow?: { sql: string; params: SqlValue[] };
  /** For a conjunction: its conjuncts (flattened through parentheses). */
  conjuncts?: Node[];
}

/**
 * FROM ... WHERE for a parsed query in a namespace, with its parameters. With a driver the index
 * lookup is the outer loop (CROSS JOIN fixes the join order in SQLite) and executions are fetched
 * by primary key; without one, the executions indexes serve the built-in conditions.
 */
export function fromSql(f: ParsedQuery, namespace: string): { sql: string; params: SqlValue[] } {
  if (f.driver)
    return {
      sql: `FROM (SELECT DISTINCT run_id FROM (${f.driver.sql})) d CROSS JOIN executions e ON e.run_id = d.run_id WHERE e.namespace = ? AND (${f.where})`,
      params: [...f.driver.params, namespace, ...f.params],
    };
  return { sql: `FROM executions e WHERE e.namespace = ? AND (${f.where})`, params: [namespace, ...f.params] };
}

export interface QueryContext {
  namespace: string;
  /** Registered custom search attributes: name → IndexedValueType. */
  customTypes: ReadonlyMap<string, number>;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The smallest string greater than every string starting with `p` (undefined when there is none). */
function prefixUpperBound(p: string): string | undefined {
  const cps = [...p];
  while (cps.length) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return cps.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** Parse a visibility query. `ctx` supplies the namespace and the custom attributes' types. */
export function parseQuery(
  q: string,
  ctx: QueryContext = { namespace: 'default', customTypes: new Map() },
): ParsedQuery {
  q = q ?? '';
  const tokens = tokenize(q);
  let i = 0;
  const peek = (k = 0) => tokens[i + k];
  const isKw = (t: Token | undefined, kw: string) => t?.kind === 'kw' && t.text.toUpperCase() === kw;
  const fail = (what: string, t: Token | undefined = peek()): never => {
    throw bad(q, t ? t.pos : q.length, t ? `${what}, found '${t.text}'` : `${what} at end of query`);
  };
  const expectKw = (kw: string) => {
    if (!isKw(peek(), kw)) fail(`expected '${kw}'`);
    i++;
  };

  type Attr = { name: string; type: number; builtin?: { column: string; nullable: boolean }; tok: Token };
  const attribute = (): Attr => {
    const t = peek();
    if (!t || t.kind !== 'ident') return fail('expected a search attribute name');
    i++;
    const builtin = BUILTIN_COLUMNS[t.text];
    if (builtin) return { name: t.text, type: SYSTEM_ATTRIBUTES[t.text], builtin, tok: t };
    const type = ctx.customTypes.get(t.text);
    if (type === undefined) throw bad(q, t.pos, `column name '${t.text}' is not a valid search attribute`);
    return { name: t.text, type, tok: t };
  };

  /** A literal converted for the attribute (a column value for built-ins, an index value for custom ones). */
  const literal = (a: Attr): SqlValue => {
    const t = peek();
    if (!t || (t.kind !== 'string' && t.kind !== 'number' && t.kind !== 'ident')) return fail('expected a value');
    if (t.kind === 'ident' && !/^(true|false)$/i.test(t.text))
      throw bad(q, t.pos, `expected a value, found '${t.text}' (did you forget to quote it?)`);
    i++;
    const failValue = (why: string): never => {
      throw bad(q, t.pos, `invalid value ${t.kind === 'string' ? `'${t.text}'` : t.text} for ${a.name}: ${why}`);
    };
    if (a.name === 'ExecutionStatus') {
      if (t.kind === 'number' && Number.isInteger(Number(t.text)) && enums.WorkflowExecutionStatus[Number(t.text)])
        return Number(t.text);
      const s =
        STATUS_NAMES[
          t.text
            .toLowerCase()
            .replace(/[_\s]/g, '')
            .replace(/^workflowexecutionstatus/, '')
        ];
      return s ?? failValue('not an execution status');
    }
    switch (a.type) {
      case T.INDEXED_VALUE_TYPE_KEYWORD:
      case T.INDEXED_VALUE_TYPE_KEYWORD_LIST:
      case T.INDEXED_VALUE_TYPE_TEXT:
        return t.kind === 'string' ? t.text : failValue('expected a string');
      case T.INDEXED_VALUE_TYPE_INT: {
        const n = Number(t.text);
        return t.kind !== 'ident' && t.text.trim() !== '' && Number.isInteger(n) ? n : failValue('expected an integer');
      }
      case T.INDEXED_VALUE_TYPE_DOUBLE: {
        const n = Number(t.text);
        return t.kind !== 'ident' && t.text.trim() !== '' && Number.isFinite(n) ? n : failValue('expected a number');
      }
      case T.INDEXED_VALUE_TYPE_BOOL:
        if (/^true$/i.test(t.text)) return 1;
        if (/^false$/i.test(t.text)) return 0;
        return failValue('expected true or false');
      case T.INDEXED_VALUE_TYPE_DATETIME: {
        if (t.kind === 'number') {
          // Temporal reads a bare integer as Unix nanoseconds.
          if (!/^-?\d+$/.test(t.text)) return failValue('expected an RFC 3339 time or Unix nanoseconds');
          return Number(BigInt(t.text) / 1_000_000n);
        }
        const ms = t.kind === 'string' ? Date.parse(t.text) : NaN;
        return Number.isFinite(ms) ? ms : failValue('expected an RFC 3339 time');
      }
    }
    return failValue(`unsupported type ${typeName(a.type)}`);
  };

  const valueList = (a: Attr): SqlValue[] => {
    if (peek()?.kind !== 'lparen') fail("expected '('");
    i++;
    const values = [literal(a)];
    while (peek()?.kind === 'comma') {
      i++;
      values.push(literal(a));
    }
    if (peek()?.kind !== 'rparen') fail("expected ',' or ')'");
    i++;
    return values;
  };

  type Cond =
    | { op: '=' | '!=' | '<' | '<=' | '>' | '>='; value: SqlValue }
    | { op: 'IN' | 'NOT IN'; values: SqlValue[] }
    | { op: 'BETWEEN' | 'NOT BETWEEN'; from: SqlValue; to: SqlValue }
    | { op: 'STARTS_WITH' | 'NOT STARTS_WITH'; prefix: string }
    | { op: 'IS NULL' | 'IS NOT NULL' };

  /** SQL for a condition on `col`, pushing its parameters onto `ps`. */
  const condSql = (col: string, c: Cond, ps: SqlValue[]): string => {
    switch (c.op) {
      case 'IN':
      case 'NOT IN':
        ps.push(...c.values);
        return `${col} ${c.op} (${c.values.map(() => '?').join(', ')})`;
      case 'BETWEEN':
      case 'NOT BETWEEN':
        ps.push(c.from, c.to);
        return `${col} ${c.op} ? AND ?`;
      case 'STARTS_WITH':
      case 'NOT STARTS_WITH': {
        const upper = prefixUpperBound(c.prefix);
        ps.push(c.prefix);
        let range = `${col} >= ?`;
        if (upper !== undefined) {
          ps.push(upper);
          range = `(${col} >= ? AND ${col} < ?)`;
        }
        return c.op === 'STARTS_WITH' ? range : `NOT ${range}`;
      }
      case 'IS NULL':
      case 'IS NOT NULL':
        return `${col} ${c.op}`;
      default:
        ps.push(c.value);
        return `${col} ${c.op} ?`;
    }
  };

  const hasValueRow = (a: Attr): Node => ({
    sql: `EXISTS (SELECT 1 FROM search_attributes s WHERE s.run_id = e.run_id AND s.name = ?)`,
    params: [a.name],
  });

  /** Runs whose index rows for `a` include one satisfying `c` (or, negated, none does). */
  const anyValue = (a: Attr, c: Cond, negate = false): Node => {
    const ps: SqlValue[] = [ctx.namespace, a.name];
    const cond = condSql('s.value', c, ps);
    const sub = `SELECT s.run_id FROM search_attributes s WHERE s.namespace = ? AND s.name = ? AND ${cond}`;
    const exists = `EXISTS (SELECT 1 FROM search_attributes s WHERE s.run_id = e.run_id AND s.name = ? AND ${cond})`;
    return {
      sql: `e.run_id ${negate ? 'NOT IN' : 'IN'} (${sub})`,
      params: ps,
      driver: negate ? undefined : { sql: sub, params: ps },
      perRow: { sql: negate ? `NOT ${exists}` : exists, params: ps.slice(1) },
    };
  };

  const predicate = (): Node => {
    const a = attribute();
    const opTok = peek();
    let c: Cond;
    if (opTok?.kind === 'op') {
      i++;
      c = { op: opTok.text as any, value: literal(a) };
    } else if (isKw(opTok, 'IS')) {
      i++;
      const not = isKw(peek(), 'NOT');
      if (not) i++;
      if (!isKw(peek(), 'NULL')) fail("expected 'NULL' or 'NOT NULL' after 'IS'");
      i++;
      c = { op: not ? 'IS NOT NULL' : 'IS NULL' };
    } else {
      let not = false;
      if (isKw(opTok, 'NOT')) {
        not = true;
        i++;
      }
      const t = peek();
      if (isKw(t, 'IN')) {
        i++;
        c = { op: not ? 'NOT IN' : 'IN', values: valueList(a) };
      } else if (isKw(t, 'BETWEEN')) {
        i++;
        const from = literal(a);
        expectKw('AND');
        c = { op: not ? 'NOT BETWEEN' : 'BETWEEN', from, to: literal(a) };
      } else if (isKw(t, 'STARTS_WITH')) {
        i++;
        const v = peek();
        if (v?.kind !== 'string') fail('STARTS_WITH needs a string');
        i++;
        c = { op: not ? 'NOT STARTS_WITH' : 'STARTS_WITH', prefix: v!.text };
      } else {
        return fail(
          not ? "expected 'IN', 'BETWEEN' or 'STARTS_WITH' after 'NOT'" : `expected an operator after ${a.name}`,
          t,
        );
      }
    }
    const unsupported = (): never => {
      throw bad(
        q,
        opTok!.pos,
        `operator '${c.op}' is not supported for ${typeName(a.type)} search attribute ${a.name}`,
      );
    };
    const ranged = ['<', '<=', '>', '>=', 'BETWEEN', 'NOT BETWEEN'].includes(c.op);
    const prefixed = c.op === 'STARTS_WITH' || c.op === 'NOT STARTS_WITH';

    if (a.builtin) {
      if (a.name === 'ExecutionStatus' && (ranged || prefixed)) unsupported();
      if (prefixed && a.type !== T.INDEXED_VALUE_TYPE_KEYWORD) unsupported();
      const ps: SqlValue[] = [];
      return { sql: condSql(a.builtin.column, c, ps), params: ps };
    }
    if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
      const has = hasValueRow(a);
      return c.op === 'IS NULL' ? { sql: `NOT ${has.sql}`, params: has.params } : has;
    }
    switch (a.type) {
      case T.INDEXED_VALUE_TYPE_KEYWORD_LIST:
        if (c.op === '=' || c.op === 'IN') return anyValue(a, c);
        if (c.op === '!=') return anyValue(a, { op: '=', value: c.value }, true);
        if (c.op === 'NOT IN') return anyValue(a, { op: 'IN', values: c.values }, true);
        return unsupported();
      case T.INDEXED_VALUE_TYPE_TEXT: {
        if (c.op !== '=' && c.op !== '!=') return unsupported();
        const words = textTokens(String(c.value));
        if (!words.length) throw bad(q, opTok!.pos, `no words to match in ${a.name} ${c.op} '${c.value}'`);
        return anyValue(a, { op: 'IN', values: words }, c.op === '!=');
      }
      case T.INDEXED_VALUE_TYPE_KEYWORD:
        return anyValue(a, c);
      default:
        if (prefixed) unsupported();
        if (a.type === T.INDEXED_VALUE_TYPE_BOOL && ranged) unsupported();
        return anyValue(a, c);
    }
  };

  const primary = (): Node => {
    const t = peek();
    if (t?.kind === 'lparen') {
      i++;
      const inner = orExpr();
      if (peek()?.kind !== 'rparen') fail("expected ')'");
      i++;
      return { ...inner, sql: `(${inner.sql})` };
    }
    if (isKw(t, 'NOT')) {
      i++;
      const inner = primary();
      return { sql: `NOT (${inner.sql})`, params: inner.params };
    }
    return predicate();
  };

  /** A conjunction keeps its top-level conjuncts, so that one indexed lookup can drive the query. */
  const andExpr = (): Node => {
    const parts: Node[] = [];
    const add = (n: Node) => parts.push(...(n.conjuncts ?? [n]));
    add(primary());
    while (isKw(peek(), 'AND')) {
      i++;
      add(primary());
    }
    if (parts.length === 1) return parts[0];
    return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params), conjuncts: parts };
  };

  function orExpr(): Node {
    const first = andExpr();
    if (!isKw(peek(), 'OR')) return first;
    const alts = [first];
    while (isKw(peek(), 'OR')) {
      i++;
      alts.push(andExpr());
    }
    return { sql: alts.map((a) => `(${a.sql})`).join(' OR '), params: alts.flatMap((a) => a.params) };
  }

  let where: Node = { sql: '1', params: [] };
  if (tokens.length && !isKw(peek(), 'ORDER') && !isKw(peek(), 'GROUP')) where = orExpr();
  // Drive the query from the custom-attribute index when a top-level conjunct is a positive lookup
  // (prefer equality): the executions are then fetched by run id instead of scanned.
  const conjuncts = where.conjuncts ?? [where];
  const drivers = conjuncts.filter((n) => n.driver);
  const chosen = drivers.find((n) => / = \?$/.test(n.driver!.sql)) ?? drivers[0];
  let driver: ParsedQuery['driver'];
  if (chosen) {
    driver = chosen.driver;
    const rest = conjuncts.filter((n) => n !== chosen).map((n) => n.perRow ?? n);
    where = rest.length
      ? { sql: rest.map((n) => n.sql).join(' AND '), params: rest.flatMap((n) => n.params) }
      : { sql: '1', params: [] };
  }

  const groupBy: string[] = [];
  if (isKw(peek(), 'GROUP')) {
    i++;
    expectKw('BY');
    const t = peek();
    if (!t || t.kind !== 'ident') fail('expected an attribute to group by');
    if (t!.text !== 'ExecutionStatus')
      throw bad(q, t!.pos, `'GROUP BY' clause is only supported for ExecutionStatus, not '${t!.text}'`);
    i++;
    groupBy.push(t!.text);
    if (peek()?.kind === 'comma') fail("'GROUP BY' clause supports only a single field");
  }

  const order: SortKey[] = [];
  if (isKw(peek(), 'ORDER')) {
    i++;
    expectKw('BY');
    for (;;) {
      const a = attribute();
      let key: SortKey;
      if (a.builtin) key = { expr: a.builtin.column, dir: 'ASC', nullable: a.builtin.nullable };
      else {
        if (a.type === T.INDEXED_VALUE_TYPE_TEXT || a.type === T.INDEXED_VALUE_TYPE_KEYWORD_LIST)
          throw bad(q, a.tok.pos, `cannot order by ${typeName(a.type)} search attribute ${a.name}`);
        key = {
          expr: `(SELECT s.value FROM search_attributes s WHERE s.run_id = e.run_id AND s.name = ${sqlString(a.name)})`,
          dir: 'ASC',
          nullable: true,
        };
      }
      if (isKw(peek(), 'ASC') || isKw(peek(), 'DESC')) key.dir = tokens[i++].text.toUpperCase() as 'ASC' | 'DESC';
      order.push(key);
      if (peek()?.kind !== 'comma') break;
      i++;
    }
  }
  if (i < tokens.length) fail(groupBy.length || order.length ? 'unexpected token' : "expected 'AND', 'OR' or the end");
  if (!order.length) order.push({ expr: 'e.start_time', dir: 'DESC', nullable: false });
  order.push({ expr: 'e.run_id', dir: order[0].dir, nullable: false });
  return { where: where.sql, params: where.params, driver, order, groupBy };
}

/** ORDER BY clause for the sort keys. */
export function orderBySql(order: SortKey[]): string {
  return order.map((k) => `${k.expr} ${k.dir}`).join(', ');
}

/**
 * Keyset condition: rows strictly after the row whose sort-key values are `last` in the order
 * `order` (SQLite sorts NULL first ascending, last descending).
 */
export function afterSql(order: SortKey[], last: SqlValue[]): { sql: string; params: SqlValue[] } {
  const params: SqlValue[] = [];
  const alternatives: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const parts: string[] = [];
    for (let j = 0; j < i; j++) {
      const k = order[j];
      if (k.nullable) {
        parts.push(`${k.expr} IS ?`);
        params.push(last[j]);
      } else {
        parts.push(`${k.expr} = ?`);
        params.push(last[j]);
      }
    }
    const k = order[i];
    const v = last[i];
    if (k.dir === 'ASC') {
      if (v === null) parts.push(`${k.expr} IS NOT NULL`);
      else {
        parts.push(`${k.expr} > ?`);
        params.push(v);
      }
    } else {
      if (v === null) parts.push('0');
      else if (k.nullable) {
        parts.push(`(${k.expr} < ? OR ${k.expr} IS NULL)`);
        params.push(v);
      } else {
        parts.push(`${k.expr} < ?`);
        params.push(v);
      }
    }
    alternatives.push(parts.join(' AND '));
  }
  return { sql: alternatives.map((a) => `(${a})`).join(' OR '), params };
}
