// Command line of longhaul-server. Accepts the argument shapes @temporalio/testing uses for an
// existing-path executable (`server start-dev ...` of the dev server, `<port>` of the test server)
// and a friendly form (`--port 7233 --db-filename data/temporal.db`). The test server's shape (a bare
// port, optionally `--enable-time-skipping`) selects test-server mode: the TestService is served and
// time skips while unlocked (initially locked unless the flag is given, as in the Java test server).
import pino from 'pino';
import { enums } from './proto';
import { startServer } from './server';

export interface CliOptions {
  port: number;
  ip: string;
  dbFile: string | null;
  namespaces: string[];
  searchAttributes: Map<string, number>;
  /** Test-server mode (bare port or --enable-time-skipping): serve the TestService. */
  testServer: boolean;
  /** Time skipping unlocked from the start (--enable-time-skipping). */
  timeSkipping: boolean;
  /** Unset: 'info', or 'warn' in test-server mode (whose launcher passes no log flags). */
  logLevel: string | undefined;
  ignored: string[];
}

const VALUE_FLAGS = new Set([
  'port',
  'p',
  'ip',
  'namespace',
  'n',
  'db-filename',
  'f',
  'ui-port',
  'ui-ip',
  'ui-public-path',
  'ui-asset-path',
  'ui-codec-endpoint',
  'log-format',
  'log-level',
  'dynamic-config-value',
  'search-attribute',
  'config',
  'c',
  'metrics-port',
  'http-port',
  'sqlite-pragma',
  'log-config',
]);
const BOOLEAN_FLAGS = new Set(['headless', 'enable-time-skipping', 'log-config']);

const SA_TYPES: Record<string, number> = {
  text: enums.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  keyword: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  int: enums.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  double: enums.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  bool: enums.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  datetime: enums.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  keywordlist: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export class UsageError extends Error {}

export function parseArgs(argv: string[]): CliOptions {
  const args = [...argv];
  if (args[0] === 'server' && args[1] === 'start-dev') args.splice(0, 2);
  else if (args[0] === 'start-dev') args.splice(0, 1);
  const o: CliOptions = {
    port: 7233,
    ip: '127.0.0.1',
    dbFile: null,
    namespaces: [],
    searchAttributes: new Map(),
    testServer: false,
    timeSkipping: false,
    logLevel: undefined,
    ignored: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) {
      // The test server's shape: `<port> [--enable-time-skipping]`.
      if (/^\d+$/.test(a) && Number(a) <= 65535) {
        o.port = Number(a);
        o.testServer = true;
      } else throw new UsageError(`unexpected argument "${a}"`);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.replace(/^--?/, '').slice(0, eq > 0 ? eq - (a.startsWith('--') ? 2 : 1) : undefined);
    let value: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    const takeValue = () => {
      if (value !== undefined) return value;
      if (i + 1 >= args.length) throw new UsageError(`flag --${name} needs a value`);
      return args[++i];
    };
    switch (name) {
      case 'port':
      case 'p': {
        const v = takeValue();
        if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`invalid port "${v}"`);
        o.port = Number(v);
        break;
      }
      case 'ip':
        o.ip = takeValue();
        break;
      case 'namespace':
      case 'n':
        o.namespaces.push(takeValue());
        break;
      case 'db-filename':
      case 'f':
        o.dbFile = takeValue();
        break;
      case 'log-level':
        o.logLevel = takeValue();
        break;
      case 'search-attribute': {
        const v = takeValue();
        const [saName, type] = v.split('=');
        const t = SA_TYPES[(type ?? '').toLowerCase()];
        if (!saName || t === undefined) throw new UsageError(`invalid --search-attribute "${v}" (want NAME=TYPE)`);
        o.searchAttributes.set(saName, t);
        break;
      }
      case 'enable-time-skipping':
        o.testServer = true;
        o.timeSkipping = true;
        break;
      default:
        if (VALUE_FLAGS.has(name)) {
          value = takeValue();
          o.ignored.push(`--${name}=${value}`);
        } else if (BOOLEAN_FLAGS.has(name)) {
          o.ignored.push(`--${name}`);
        } else {
          // Unknown dev-server flags are accepted (and logged), never fatal.
          if (value === undefined && i + 1 < args.length && !args[i + 1].startsWith('-')) value = args[++i];
          o.ignored.push(value === undefined ? `--${name}` : `--${name}=${value}`);
        }
    }
  }
  return o;
}

export async function main(argv: string[]): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `longhaul-server: ${err.message}\nusage: longhaul-server [--port 7233] [--ip 127.0.0.1] [--db-filename FILE] [--namespace NS]...\n` +
          `       longhaul-server server start-dev --port P --ip IP --namespace NS [--db-filename FILE] ...\n`,
      );
      process.exit(2);
    }
    throw err;
  }
  const log = pino(
    { base: undefined, level: normalizeLevel(opts.logLevel ?? (opts.testServer ? 'warn' : 'info')) },
    pino.destination(2),
  );
  if (opts.ignored.length) log.info({ flags: opts.ignored }, 'accepted but ignored flags');
  if (opts.testServer) {
    log.info({ timeSkipping: opts.timeSkipping ? 'unlocked' : 'locked' }, 'test-server mode: TestService served');
  }
  const server = await startServer({
    port: opts.port,
    ip: opts.ip,
    dbFile: opts.dbFile,
    namespaces: opts.namespaces,
    searchAttributes: opts.searchAttributes,
    timeSkipping: opts.timeSkipping ? 'unlocked' : opts.testServer ? 'locked' : undefined,
    logger: log,
  }).catch((err) => {
    log.error({ err }, `longhaul-server failed to start: ${err.message}`);
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'longhaul-server stopping');
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function normalizeLevel(l: string): string {
  const v = l.toLowerCase();
  return ['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(v) ? v : 'info';
}
