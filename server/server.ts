// Assembles a longhaul-server: store, engine, matching, and the gRPC services on one port.
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Clock } from './clock';
import type { ServerContext } from './context';
import { namespaceHandlers } from './frontend/namespaces';
import { operatorHandlers } from './frontend/operator';
import { scheduleHandlers } from './frontend/schedules';
import { testServiceHandlers } from './frontend/testservice';
import { taskHandlers } from './frontend/tasks';
import { visibilityHandlers } from './frontend/visibility';
import { workflowHandlers } from './frontend/workflows';
import { addService } from './grpc';
import { installFastDecompression } from './grpc-decompress';
import { Activities } from './history/activity';
import { Children } from './history/children';
import { Commands } from './history/commands';
import type { Execution } from './history/execution';
import { Engine, type Logger } from './history/engine';
import { Matching } from './matching/task-queues';
import { Namespaces } from './namespaces';
import { Schedules } from './schedules/scheduler';
import { Store } from './store/store';
import { SearchAttributeRegistry, indexEntries } from './visibility/search-attributes';
import { TimeSkipping } from './time-skipping';

export interface ServerOptions {
  port: number;
  ip: string;
  dbFile: string | null;
  namespaces: string[];
  searchAttributes: Map<string, number>;
  pollTimeoutMs?: number;
  logger?: Logger;
  /**
   * Test-server mode: serve the TestService, with time skipping initially 'locked' (a client unlocks
   * it, as @temporalio/testing does around awaiting a result) or 'unlocked'. Unset: time never skips.
   */
  timeSkipping?: 'locked' | 'unlocked';
}

export interface RunningServer {
  port: number;
  ctx: ServerContext;
  stop(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log: Logger = opts.logger ?? pino({ base: undefined }, pino.destination(2));
  const clock = new Clock();
  const store = new Store(opts.dbFile, (err) => {
    log.error({ err }, 'persistence failed; stopping so that no unsaved state is served');
    process.exit(70);
  });
  // Custom search attributes: persisted registrations plus --search-attribute flags; the store
  // indexes each run's values (in the same transaction as its execution row) by their registered type.
  const searchAttributes = new SearchAttributeRegistry(store.db, new Map(opts.searchAttributes));
  store.setSearchAttributeIndexer((sa) => indexEntries(searchAttributes.types, sa));
  if (store.openedAtVersion > 0 && store.openedAtVersion < 2) store.reindexSearchAttributes();
  // Poller liveness is wall time, like the long polls themselves; server time can skip (test server).
  const matching = new Matching(() => Date.now());
  const namespaces = new Namespaces(store);
  for (const ns of new Set(['default', ...opts.namespaces])) namespaces.ensure(ns);

  const hooks = {
    rearmActivities: (e: Execution) => activities.rearm(e),
    onClose: (e: Execution) => {
      children.onClose(e);
      schedules.onClose(e);
    },
  };
  const engine = new Engine(store, matching, clock, log, hooks);
  const schedules = new Schedules(store, engine, clock, log);
  const activities = new Activities(engine);
  const children = new Children(engine, namespaces);
  const commands = new Commands(engine, activities, children, searchAttributes.types);
  const ctx: ServerContext = {
    engine,
    activities,
    children,
    commands,
    namespaces,
    matching,
    store,
    clock,
    log,
    pollTimeoutMs: opts.pollTimeoutMs ?? 60_000,
    searchAttributes: searchAttributes.types,
  };
  const recovered = engine.recover();
  // Schedules catch up on action times missed while the server was down (after runs are recovered).
  const recoveredSchedules = schedules.recover();
  await store.commit();

  installFastDecompression();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    // Channelz bookkeeping costs CPU on every call and nothing here reads it.
    'grpc.enable_channelz': 0,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
  });
  const logInternal = (err: unknown) => log.error({ err }, 'internal error');
  addService(
    server,
    'temporal.api.workflowservice.v1.WorkflowService',
    {
      ...namespaceHandlers(ctx),
      ...workflowHandlers(ctx),
      ...taskHandlers(ctx),
      ...visibilityHandlers(ctx),
      ...scheduleHandlers(ctx, schedules),
    },
    logInternal,
  );
  addService(
    server,
    'temporal.api.operatorservice.v1.OperatorService',
    operatorHandlers(ctx, searchAttributes),
    logInternal,
  );
  addService(server, 'grpc.health.v1.Health', { Check: () => ({ status: 1 }) }, logInternal);
  const skipper = opts.timeSkipping && new TimeSkipping(engine, clock, opts.timeSkipping === 'unlocked');
  if (skipper)
    addService(server, 'temporal.api.testservice.v1.TestService', testServiceHandlers(skipper, clock), logInternal);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.ip}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  log.info(
    { address: `${opts.ip}:${port}`, db: opts.dbFile ?? ':memory:', recovered, schedules: recoveredSchedules },
    `longhaul-server listening on ${opts.ip}:${port}`,
  );

  return {
    port,
    ctx,
    async stop() {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => (server.forceShutdown(), resolve()), 2000);
        server.tryShutdown(() => (clearTimeout(t), resolve()));
      });
      skipper?.stop();
      schedules.stop();
      clock.stop();
      await store.commit();
      store.close();
    },
  };
}
