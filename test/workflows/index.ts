// Workflows used by the server tests. Deterministic code only: bundled once per run by the global setup.
export * from './basic';
export * from './activities';
export * from './timers';
export * from './signals';
export * from './lifecycle';
export * from './children';
export * from './retries';
export * from './updates';
export * from './local';
export * from './misc';
export * from './long-sleep';
export * from './search';
export * from './scheduled';
