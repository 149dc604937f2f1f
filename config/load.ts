// Loads and checks the longhaul config (LONGHAUL_CONFIG, else longhaul.config.{yaml,yml,json} in the working
// directory, else the one shipped at the package root), and resolves everything the worker, API and CLI share:
// tool snapshots, pipeline graphs, input validators, data directory, secret, Temporal address and task queue.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { toMs } from '../workflows/durations';
import type { PipelineSpec, StepSpec, ToolSpec } from '../workflows/types';
import { compileInputSchema, type InputValidator } from './input';
import { readOrCreateSecret } from './secret-file';
import { PLACEHOLDER } from '../activities/argv';
import { configSchema, type ConfigFile, type PipelineConfig, type ToolConfig } from './schema';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedTool {
  spec: ToolSpec;
  inputSchema: Record<string, unknown>;
  validateInput: InputValidator;
}

export interface LoadedPipeline {
  spec: PipelineSpec;
  inputSchema: Record<string, unknown>;
  validateInput: InputValidator;
}

export interface LongHaulConfig {
  file: string;
  raw: ConfigFile;
  tools: Map<string, LoadedTool>;
  pipelines: Map<string, LoadedPipeline>;
  resources: Record<string, number>;
  smtp?: ConfigFile['smtp'];
  dataDir: string;
  secret: string;
  publicUrl: string;
  taskQueue: string;
  namespace: string;
  temporalAddress: string;
}

const CANDIDATES = ['longhaul.config.yaml', 'longhaul.config.yml', 'longhaul.config.json'];

/** The package root (where package.json is), found from this file whether run from source or from dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

export function findConfigFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.LONGHAUL_CONFIG) return path.resolve(cwd, env.LONGHAUL_CONFIG);
  for (const dir of [cwd, packageRoot()]) {
    for (const c of CANDIDATES) if (fs.existsSync(path.join(dir, c))) return path.join(dir, c);
  }
  throw new ConfigError(path.join(cwd, CANDIDATES[0]), ['no config file found (set LONGHAUL_CONFIG)']);
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): LongHaulConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.file ? path.resolve(cwd, opts.file) : findConfigFile(env, cwd);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML/JSON: ${(err as Error).message}`]);
  }
  return resolveConfig(parsed, { file, env, cwd });
}

/** Checks a parsed config object and resolves it (exported for tests that build configs inline). */
export function resolveConfig(
  parsed: unknown,
  opts: { file: string; env?: NodeJS.ProcessEnv; cwd?: string },
): LongHaulConfig {
  const { file } = opts;
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const configDir = path.dirname(file);
  const checked = configSchema.safeParse(parsed ?? {});
  if (!checked.success) throw new ConfigError(file, zodProblems(checked.error));
  const raw = checked.data;
  const problems: string[] = [];

  const tools = new Map<string, LoadedTool>();
  for (const [name, t] of Object.entries(raw.tools)) {
    try {
      tools.set(name, loadTool(name, t, configDir, raw.resources, problems));
    } catch (err) {
      problems.push(`tools.${name}: ${(err as Error).message}`);
    }
  }
  const pipelines = new Map<string, LoadedPipeline>();
  for (const [name, p] of Object.entries(raw.pipelines)) {
    try {
      pipelines.set(name, loadPipeline(name, p, tools, problems));
    } catch (err) {
      problems.push(`pipelines.${name}: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);

  const dataDir = path.resolve(
    cwd,
    env.LONGHAUL_DATA_DIR || (raw.dataDir ? path.resolve(configDir, raw.dataDir) : 'data'),
  );
  const port = env.PORT || '8080';
  return {
    file,
    raw,
    tools,
    pipelines,
    resources: raw.resources,
    smtp: raw.smtp,
    dataDir,
    secret: env.LONGHAUL_SECRET || (raw.secret ?? persistentSecret(dataDir)),
    publicUrl: (env.LONGHAUL_PUBLIC_URL || (raw.publicUrl ?? `http://127.0.0.1:${port}`)).replace(/\/+$/, ''),
    taskQueue: env.LONGHAUL_TASK_QUEUE || (raw.taskQueue ?? 'longhaul'),
    namespace: env.TEMPORAL_NAMESPACE || (raw.namespace ?? 'default'),
    temporalAddress: env.TEMPORAL_ADDRESS || `127.0.0.1:${env.LONGHAUL_SERVER_PORT || '7233'}`,
  };
}

function loadTool(
  name: string,
  t: ToolConfig,
  configDir: string,
  capacities: Record<string, number>,
  problems: string[],
): LoadedTool {
  const inputSchema = t.input ?? { type: 'object' };
  const validateInput = compileInputSchema(inputSchema);
  const command = t.command ? [...t.command] : undefined;
  // A relative program path (one with a slash) is relative to the config file, so the shipped examples work from
  // any working directory; a bare name is looked up on PATH.
  if (command && command[0].includes('/') && !path.isAbsolute(command[0])) {
    command[0] = path.resolve(configDir, command[0]);
  }
  const props = (inputSchema as { properties?: Record<string, unknown> }).properties;
  if (props) {
    const templates = [
      ...(command ?? []),
      t.http?.url ?? '',
      t.http?.body ?? '',
      ...Object.values(t.http?.headers ?? {}),
    ];
    for (const field of placeholders(templates)) {
      if (!(field.split('.')[0] in props))
        problems.push(`tools.${name}: placeholder {${field}} is not an input property`);
    }
    if (t.stdin && !(t.stdin in props)) problems.push(`tools.${name}: stdin field ${t.stdin} is not an input property`);
  }
  for (const r of Object.keys(t.resources ?? {})) {
    if (!(r in capacities)) problems.push(`tools.${name}: resource ${r} is not declared under resources`);
    else if (t.resources![r] > capacities[r])
      problems.push(`tools.${name}: needs ${t.resources![r]} ${r}, capacity is ${capacities[r]}`);
  }
  for (const [what, pattern] of [
    ['progress.pattern', t.progress?.pattern],
    ['result.pattern', t.result?.pattern],
  ] as const) {
    if (pattern === undefined) continue;
    try {
      new RegExp(pattern);
    } catch (err) {
      problems.push(`tools.${name}: ${what}: ${(err as Error).message}`);
    }
  }
  toMs(t.timeout);
  toMs(t.heartbeat);
  const spec: ToolSpec = {
    name,
    description: t.description,
    kind: t.http ? 'http' : 'command',
    command,
    shell: t.shell,
    env: t.env,
    stdin: t.stdin,
    timeout: t.timeout,
    heartbeat: t.heartbeat,
    retry: t.retry,
    progress: t.progress,
    result: t.result,
    outputs: t.outputs,
    resources: t.resources,
    http: t.http,
    review: t.review,
    defaults: schemaDefaults(props),
    inputSchema: t.input,
  };
  return { spec: JSON.parse(JSON.stringify(spec)), inputSchema, validateInput };
}

function loadPipeline(
  name: string,
  p: PipelineConfig,
  tools: Map<string, LoadedTool>,
  problems: string[],
): LoadedPipeline {
  const ids = new Set<string>();
  const steps: StepSpec[] = [];
  const usedTools: Record<string, ToolSpec> = {};
  const where = (s: { id: string }) => `pipelines.${name}.steps.${s.id}`;
  for (const s of p.steps) {
    if (ids.has(s.id)) problems.push(`${where(s)}: duplicate step id`);
    ids.add(s.id);
  }
  p.steps.forEach((s, i) => {
    // Without `after`, a step follows the one listed before it (`after: []` starts at once); steps whose output
    // a step reads are implicit dependencies.
    const after = new Set(s.after ?? (i > 0 ? [p.steps[i - 1].id] : []));
    if (s.stdin && 'step' in s.stdin) after.add(s.stdin.step);
    if (s.forEach?.step) after.add(s.forEach.step);
    for (const ref of placeholders(collectStrings(s.input))) {
      const m = /^steps\.([^.]+)\./.exec(ref);
      if (m) after.add(m[1]);
    }
    for (const a of after) {
      if (!ids.has(a)) problems.push(`${where(s)}: refers to unknown step ${a}`);
      if (a === s.id) problems.push(`${where(s)}: depends on itself`);
    }
    if (s.tool) {
      const t = tools.get(s.tool);
      if (!t) problems.push(`${where(s)}: unknown tool ${s.tool}`);
      else usedTools[s.tool] = t.spec;
    }
    if (s.forEach?.step && !s.forEach.split) problems.push(`${where(s)}: forEach.step needs forEach.split`);
    if (s.forEach && !s.tool) problems.push(`${where(s)}: forEach needs a tool`);
    if (s.stdin && 'item' in s.stdin && !s.forEach) problems.push(`${where(s)}: stdin.item needs forEach`);
    steps.push({ ...s, after: [...after] } as StepSpec);
  });
  const cycle = findCycle(steps);
  if (cycle) problems.push(`pipelines.${name}: dependency cycle ${cycle.join(' -> ')}`);
  const inputSchema = p.input ?? { type: 'object' };
  const spec: PipelineSpec = { name, description: p.description, steps, tools: usedTools };
  return { spec: JSON.parse(JSON.stringify(spec)), inputSchema, validateInput: compileInputSchema(inputSchema) };
}

function findCycle(steps: StepSpec[]): string[] | undefined {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done' || !byId.has(id)) return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const a of byId.get(id)!.after ?? []) {
      const c = visit(a);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const s of steps) {
    const c = visit(s.id);
    if (c) return c;
  }
  return undefined;
}

function schemaDefaults(props: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v && typeof v === 'object' && 'default' in v) out[k] = (v as { default: unknown }).default;
  }
  return Object.keys(out).length ? out : undefined;
}

function placeholders(templates: string[]): string[] {
  const out: string[] = [];
  for (const t of templates) for (const m of t.matchAll(PLACEHOLDER)) out.push(m[1]);
  return out;
}

function collectStrings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(collectStrings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(collectStrings);
  return [];
}

function zodProblems(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
}

/** The HMAC secret generated on first use and kept in the data directory, so restarts keep links valid.
 * Several machines must share it (or set LONGHAUL_SECRET). */
function persistentSecret(dataDir: string): string {
  return readOrCreateSecret(path.join(dataDir, 'secret'), () => randomBytes(32).toString('base64url'));
}
