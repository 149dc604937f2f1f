// Config loading: the shipped config is valid, and mistakes are reported with where they are.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, packageRoot, resolveConfig } from '../../config/load';

const file = path.join(os.tmpdir(), 'longhaul.config.yaml');
const env = { LONGHAUL_SECRET: 'x'.repeat(32), LONGHAUL_DATA_DIR: os.tmpdir() };

function problems(parsed: unknown): string[] {
  try {
    resolveConfig(parsed, { file, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const div = {
  command: ['/bin/echo', '{x}'],
  input: { type: 'object', properties: { x: { type: 'integer', default: 3 } } },
};

describe('config', () => {
  it('loads the shipped config, resolving program paths and schema defaults', () => {
    const c = loadConfig({ file: path.join(packageRoot(), 'longhaul.config.yaml'), env });
    const slow = c.tools.get('slow_div')!;
    expect(slow.spec.command![0]).toBe(path.join(packageRoot(), 'examples', 'tools', 'slow_div'));
    expect(fs.existsSync(slow.spec.command![0])).toBe(true);
    expect(slow.spec.defaults).toEqual({ seconds: 30 });
    expect(slow.validateInput({ x: 8, y: 2 })).toEqual({ ok: true, value: { x: 8, y: 2, seconds: 30 } });
    expect(slow.validateInput({ x: 8 })).toEqual({ ok: false, errors: [{ field: '/y', message: 'is required' }] });
    const p = c.pipelines.get('sequence_report')!;
    expect(p.spec.steps.map((s) => [s.id, s.after])).toEqual([
      ['fetch', []],
      ['stats', ['fetch']],
      ['merge', ['stats']],
    ]);
    expect(Object.keys(p.spec.tools).sort()).toEqual(['fetch_seq', 'merge_stats', 'seq_stats']);
    expect(c.taskQueue).toBe('longhaul');
    expect(c.temporalAddress).toBe('127.0.0.1:7233');
  });

  it('takes addresses, queue and data directory from the environment', () => {
    const c = resolveConfig(
      { tools: { div } },
      {
        file,
        env: { ...env, TEMPORAL_ADDRESS: 'temporal.example:7233', LONGHAUL_TASK_QUEUE: 'q', PORT: '9000' },
      },
    );
    expect(c.temporalAddress).toBe('temporal.example:7233');
    expect(c.taskQueue).toBe('q');
    expect(c.publicUrl).toBe('http://127.0.0.1:9000');
  });

  it('reports unknown keys, bad durations and tools without a command, with their paths', () => {
    expect(problems({ tools: { div: { ...div, timeout: 'soon', colour: 'red' } } })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^tools\.div\.timeout: /),
        expect.stringMatching(/^tools\.div: .*colour/),
      ]),
    );
    expect(problems({ tools: { t: { description: 'nothing to run' } } })).toEqual([
      expect.stringContaining('exactly one of `command` or `http`'),
    ]);
  });

  it('reports placeholders that are not inputs, undeclared resources and bad regexes', () => {
    expect(
      problems({
        tools: {
          div: { ...div, command: ['/bin/echo', '{x}', '{z}'], resources: { gpu: 1 }, progress: { pattern: '(' } },
        },
      }),
    ).toEqual([
      'tools.div: placeholder {z} is not an input property',
      'tools.div: resource gpu is not declared under resources',
      expect.stringMatching(/^tools\.div: progress\.pattern: /),
    ]);
  });

  it('reports unknown tools, unknown steps, duplicates and cycles in pipelines', () => {
    const got = problems({
      tools: { div },
      pipelines: {
        p: {
          steps: [
            { id: 'a', tool: 'div', after: ['c'] },
            { id: 'b', tool: 'nope' },
            { id: 'c', tool: 'div', after: ['a'] },
            { id: 'c', tool: 'div', stdin: { step: 'zz' } },
          ],
        },
      },
    });
    expect(got).toEqual(
      expect.arrayContaining([
        'pipelines.p.steps.b: unknown tool nope',
        'pipelines.p.steps.c: duplicate step id',
        'pipelines.p.steps.c: refers to unknown step zz',
        expect.stringMatching(/^pipelines\.p: dependency cycle /),
      ]),
    );
  });

  it('refuses a file that is not YAML, and says where it looked when there is none', () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'c.yaml');
    fs.writeFileSync(bad, 'tools: [unclosed');
    expect(() => loadConfig({ file: bad, env })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ env: { ...env, LONGHAUL_CONFIG: '/nonexistent/x.yaml' } })).toThrow(/cannot read/);
  });
});
