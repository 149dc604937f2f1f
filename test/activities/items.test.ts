// readItems and collectResults, the fan-out activities; items are produced by running the example tools through
// runCommand so collectResults sees exactly what real fan-out items leave behind.
import { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createItemActivities, splitItems } from '../../activities/items';
import { resolveJobPath } from '../../activities/job-files';
import { createRunCommand } from '../../activities/run-command';
import type {
  CollectRequest,
  ReadItemsRequest,
  ReadItemsResult,
  RunCommandRequest,
  StepResult,
  ToolSpec,
} from '../../workflows/types';
import { activityDeps, activityEnv, failure, useTempDir } from '../helpers/activities';

const TOOLS = path.resolve(__dirname, '../../examples/tools');
const FASTA = path.resolve(__dirname, '../../examples/data/sequences.fasta');

let dataDir: string;
useTempDir('longhaul-items-', (dir) => (dataDir = dir));

const deps = () => activityDeps(dataDir);
const env = activityEnv;

function readItems(req: ReadItemsRequest): Promise<ReadItemsResult> {
  return env().run(createItemActivities(deps()).readItems, req) as Promise<ReadItemsResult>;
}

function collect(req: CollectRequest): Promise<StepResult> {
  return env().run(createItemActivities(deps()).collectResults, req) as Promise<StepResult>;
}

function runCommand(req: RunCommandRequest): Promise<StepResult> {
  return env().run(createRunCommand(deps()), req) as Promise<StepResult>;
}

/** Writes a file under <dataDir>/jobs and returns its JobPath. */
function jobFile(name: string, content: string): string {
  const abs = path.join(dataDir, 'jobs', 'job-it', name);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  return `job-it/${name}`;
}

const tool = (over: Partial<ToolSpec> & { command: string[] }): ToolSpec => ({
  name: path.basename(over.command[0]),
  kind: 'command',
  timeout: '1m',
  heartbeat: '3s',
  retry: {},
  ...over,
});

describe('readItems', () => {
  it('splits lines, skipping empty ones, and pages', async () => {
    const file = jobFile('ids.txt', 'SEQ001\r\n\nSEQ002\n  \nSEQ003\nSEQ004\nSEQ005');
    const source = { file, split: 'lines' as const };
    expect(await readItems({ source, offset: 0, limit: 2 })).toEqual({ items: ['SEQ001', 'SEQ002'], total: 5 });
    expect(await readItems({ source, offset: 2, limit: 2 })).toEqual({ items: ['SEQ003', 'SEQ004'], total: 5 });
    expect(await readItems({ source, offset: 4, limit: 2 })).toEqual({ items: ['SEQ005'], total: 5 });
    expect(await readItems({ source, offset: 9, limit: 2 })).toEqual({ items: [], total: 5 });
  });

  it('splits FASTA into whole records', async () => {
    const file = jobFile('seqs.fasta', 'junk before\n>A first\nACGT\nAC\n\n>B\nGG\n>C third\nT');
    const source = { file, split: 'fasta' as const };
    expect(await readItems({ source, offset: 0, limit: 10 })).toEqual({
      items: ['>A first\nACGT\nAC\n', '>B\nGG\n', '>C third\nT\n'],
      total: 3,
    });
    expect(await readItems({ source, offset: 1, limit: 1 })).toEqual({ items: ['>B\nGG\n'], total: 3 });
    const all = jobFile('all.fasta', fs.readFileSync(FASTA, 'utf8'));
    const page = await readItems({ source: { file: all, split: 'fasta' }, offset: 20, limit: 10 });
    expect(page.total).toBe(25);
    expect(page.items).toHaveLength(5);
    expect(page.items[0]).toMatch(/^>SEQ021 .*\n[ACGT\n]+$/);
  });

  it('reads a JSON array, and sees a rewritten file', async () => {
    const file = jobFile('items.json', JSON.stringify([{ id: 1 }, 'two', 3, null]));
    const source = { file, split: 'json' as const };
    expect(await readItems({ source, offset: 1, limit: 2 })).toEqual({ items: ['two', 3], total: 4 });
    jobFile('items.json', JSON.stringify(['a', 'b']));
    expect(await readItems({ source, offset: 0, limit: 10 })).toEqual({ items: ['a', 'b'], total: 2 });
  });

  it('refuses bad sources non-retryably', async () => {
    const notArray = await failure(
      readItems({ source: { file: jobFile('o.json', '{}'), split: 'json' }, offset: 0, limit: 1 }),
    );
    expect(notArray).toBeInstanceOf(ApplicationFailure);
    expect(notArray.nonRetryable).toBe(true);
    const missing = await failure(readItems({ source: { file: 'job-it/nope', split: 'lines' }, offset: 0, limit: 1 }));
    expect(missing.nonRetryable).toBe(true);
    const escape = await failure(readItems({ source: { file: '../x', split: 'lines' }, offset: 0, limit: 1 }));
    expect(escape.type).toBe('BadInput');
    // A sparse file: big on paper, no disk used.
    const big = jobFile('big.txt', '');
    fs.truncateSync(resolveJobPath(dataDir, big), 101 * 1024 * 1024);
    const tooBig = await failure(readItems({ source: { file: big, split: 'lines' }, offset: 0, limit: 1 }));
    expect(tooBig.type).toBe('InputTooLarge');
    expect(tooBig.nonRetryable).toBe(true);
  });
});

describe('collectResults', () => {
  const ids = ['SEQ001', 'SEQ002', 'SEQ003', 'SEQ004'];

  it('gathers JSON results in item order, with null for failed items', async () => {
    const stats = tool({ command: [path.join(TOOLS, 'seq_stats')], env: { SEQ_STATS_FAIL_IDS: 'SEQ002' } });
    const fetch = tool({ command: [path.join(TOOLS, 'fetch_seq'), '{id}'] });
    const outcomes = await Promise.allSettled(
      ids.map(async (id, item) => {
        const rec = await runCommand({ jobId: 'job-c', stepId: 'fetch', item, tool: fetch, input: { id } });
        return runCommand({
          jobId: 'job-c',
          stepId: 'stats',
          item,
          tool: stats,
          input: {},
          stdin: { file: rec.stdoutFile },
        });
      }),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);

    const r = await collect({ jobId: 'job-c', stepId: 'stats', total: ids.length, mode: 'json' });
    expect(r.stdoutFile).toBe('job-c/steps/stats/stdout.log');
    expect(r.artifacts).toEqual(['job-c/steps/stats/results.json']);
    const results = JSON.parse(fs.readFileSync(resolveJobPath(dataDir, r.artifacts![0]), 'utf8'));
    expect(results.map((x: any) => x?.id ?? null)).toEqual(['SEQ001', null, 'SEQ003', 'SEQ004']);
    expect(results[0]).toEqual({ id: 'SEQ001', length: expect.any(Number), gc: expect.any(Number) });
    expect(r.value).toEqual(results);
    const stdout = fs.readFileSync(resolveJobPath(dataDir, r.stdoutFile!), 'utf8');
    expect(JSON.parse(stdout)).toEqual(results);
    expect(r.stdoutBytes).toBe(Buffer.byteLength(stdout));
    expect(r.stdoutTail).toBe(stdout);

    // Downstream, the collected output is stdin like any step's.
    const merged = await runCommand({
      jobId: 'job-c',
      stepId: 'merge',
      tool: tool({ command: [path.join(TOOLS, 'merge_stats')], result: { json: true } }),
      input: {},
      stdin: { file: r.stdoutFile },
    });
    expect(merged.value).toMatchObject({ count: 3 });

    // Plain-text outputs are kept as strings; missing items (never ran) are null too.
    const text = await collect({ jobId: 'job-c', stepId: 'fetch', total: ids.length + 1, mode: 'json' });
    const texts = text.value as unknown[];
    expect(texts).toHaveLength(5);
    expect(texts[0]).toMatch(/^>SEQ001 [^\n]*\n[ACGT\n]+[ACGT]$/);
    expect(texts[4]).toBeNull();
  });

  it('concatenates the stdout of succeeded items in order', async () => {
    const fetch = tool({ command: [path.join(TOOLS, 'fetch_seq'), '{id}'] });
    const list = ['SEQ005', 'NOPE', 'SEQ007', 'SEQ006'];
    await Promise.allSettled(
      list.map((id, item) => runCommand({ jobId: 'job-k', stepId: 'fetch', item, tool: fetch, input: { id } })),
    );
    const r = await collect({ jobId: 'job-k', stepId: 'fetch', total: list.length, mode: 'concat' });
    expect(r.stdoutFile).toBe('job-k/steps/fetch/stdout.log');
    expect(r.artifacts).toEqual(['job-k/steps/fetch/stdout.log']);
    expect(r.value).toBeUndefined();
    const out = fs.readFileSync(resolveJobPath(dataDir, r.stdoutFile!), 'utf8');
    expect(splitItems(out, 'fasta').map((rec) => (rec as string).split(/\s/)[0])).toEqual([
      '>SEQ005',
      '>SEQ007',
      '>SEQ006',
    ]);
    expect(r.stdoutBytes).toBe(Buffer.byteLength(out));

    // The concatenation feeds the next tool directly.
    const aligned = await runCommand({
      jobId: 'job-k',
      stepId: 'align',
      tool: tool({ command: [path.join(TOOLS, 'align')] }),
      input: {},
      stdin: { file: r.stdoutFile },
    });
    expect((aligned.value as string).split('\n').map((l) => l.split(' ')[0])).toEqual(['SEQ005', 'SEQ007', 'SEQ006']);
  });

  it('writes an empty result for zero items', async () => {
    const json = await collect({ jobId: 'job-e', stepId: 'none', total: 0, mode: 'json' });
    expect(json.value).toEqual([]);
    const concat = await collect({ jobId: 'job-e', stepId: 'none2', total: 0, mode: 'concat' });
    expect(concat.stdoutBytes).toBe(0);
  });
});
