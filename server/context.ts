// The parts of a running server that frontend handlers use.
import type { Clock } from './clock';
import type { Activities } from './history/activity';
import type { Children } from './history/children';
import type { Commands } from './history/commands';
import type { Engine, Logger } from './history/engine';
import type { Matching } from './matching/task-queues';
import type { Namespaces } from './namespaces';
import type { Store } from './store/store';

export interface ServerContext {
  engine: Engine;
  activities: Activities;
  children: Children;
  commands: Commands;
  namespaces: Namespaces;
  matching: Matching;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Long-poll limit for task queue polls (Temporal answers empty after about a minute). */
  pollTimeoutMs: number;
  /** Registered custom search attributes: name → IndexedValueType. */
  searchAttributes: Map<string, number>;
}

export const SERVER_VERSION = '1.25.0';
