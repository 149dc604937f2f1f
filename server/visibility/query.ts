// Temporal's list filter language → a parameterised SQL WHERE clause over indexed columns.
// Supported here: comparisons (=, !=, <, <=, >, >=) on built-in attributes, AND, OR, parentheses,
// and ORDER BY StartTime/CloseTime. Errors say where the query failed.
import { invalidArgument } from '../grpc';
import { enums } from '../proto';

type Token = {
  kind: 'ident' | 'string' | 'number' | 'op' | 'lparen' | 'rparen' | 'comma' | 'kw';
  text: string;
  pos: number;
};

const KEYWORDS = new Set([
  'AND',
  'OR',
  'ORDER',
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
    } else if (/[0-9-]/.test(c)) {
      while (i < q.length && /[0-9.eE+-]/.test(q[i])) i++;
      out.push({ kind: 'number', text: q.slice(start, i), pos: start });
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

/** Built-in attributes: their column and how a literal becomes a column value. */
const BUILTIN: Record<string, { column: string; value: (v: string) => string | number }> = {
  WorkflowId: { column: 'workflow_id', value: String },
  WorkflowType: { column: 'workflow_type', value: String },
  RunId: { column: 'run_id', value: String },
  TaskQueue: { column: 'task_queue', value: String },
  ExecutionStatus: { column: 'status', value: statusValue },
  StartTime: { column: 'start_time', value: timeValue },
  CloseTime: { column: 'close_time', value: timeValue },
  ExecutionTime: { column: 'execution_time', value: timeValue },
};

function statusValue(v: string): number {
  const names: Record<string, number> = {
    Running: 1,
    Completed: 2,
    Failed: 3,
    Canceled: 4,
    Terminated: 5,
    ContinuedAsNew: 6,
    TimedOut: 7,
  };
  if (v in names) return names[v];
  const n = Number(v);
  if (Number.isInteger(n) && enums.WorkflowExecutionStatus[n] !== undefined) return n;
  throw invalidArgument(`invalid ExecutionStatus value '${v}'`);
}

function timeValue(v: string): number {
  const n = /^-?\d+$/.test(v) ? Number(v) / 1e6 : Date.parse(v);
  if (!Number.isFinite(n)) throw invalidArgument(`invalid time value '${v}'`);
  return n;
}

export interface SqlFilter {
  where: string;
  params: (string | number)[];
  orderBy: string;
}

/** Parse a visibility query into SQL over the executions table. */
export function parseQuery(q: string): SqlFilter {
  const tokens = tokenize(q ?? '');
  let i = 0;
  const params: (string | number)[] = [];
  const peek = () => tokens[i];
  const isKw = (t: Token | undefined, kw: string) => t?.kind === 'kw' && t.text.toUpperCase() === kw;
  const fail = (what: string): never => {
    const t = peek();
    throw bad(q, t ? t.pos : q.length, t ? `${what}, found '${t.text}'` : `${what} at end of query`);
  };

  const literal = (attr: { value: (v: string) => string | number }) => {
    const t = peek();
    if (!t || (t.kind !== 'string' && t.kind !== 'number')) fail('expected a value');
    i++;
    return attr.value(t!.text);
  };

  const comparison = (): string => {
    const t = peek();
    if (t?.kind === 'lparen') {
      i++;
      const inner = orExpr();
      if (peek()?.kind !== 'rparen') fail("expected ')'");
      i++;
      return `(${inner})`;
    }
    if (!t || t.kind !== 'ident') fail('expected an attribute name');
    const attr = BUILTIN[t!.text];
    if (!attr) throw bad(q, t!.pos, `unknown search attribute '${t!.text}'`);
    i++;
    const op = peek();
    if (!op || op.kind !== 'op') fail('expected a comparison operator');
    i++;
    params.push(literal(attr));
    return `${attr.column} ${op!.text} ?`;
  };

  const andExpr = (): string => {
    let left = comparison();
    while (isKw(peek(), 'AND')) {
      i++;
      left = `${left} AND ${comparison()}`;
    }
    return left;
  };

  const orExpr = (): string => {
    let left = andExpr();
    while (isKw(peek(), 'OR')) {
      i++;
      left = `(${left}) OR (${andExpr()})`;
    }
    return left;
  };

  let where = '1';
  if (tokens.length && !isKw(peek(), 'ORDER')) where = orExpr();
  let orderBy = 'start_time DESC, run_id DESC';
  if (isKw(peek(), 'ORDER')) {
    i++;
    if (!isKw(peek(), 'BY')) fail("expected 'BY'");
    i++;
    const t = peek();
    if (!t || t.kind !== 'ident' || !BUILTIN[t.text]) fail('expected an attribute to order by');
    i++;
    let dir = 'ASC';
    if (isKw(peek(), 'ASC') || isKw(peek(), 'DESC')) dir = tokens[i++].text.toUpperCase();
    orderBy = `${BUILTIN[t!.text].column} ${dir}, run_id ${dir}`;
  }
  if (i < tokens.length) fail('unexpected token');
  return { where, params, orderBy };
}
