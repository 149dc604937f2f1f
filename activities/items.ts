// Activities around fan-out steps: reading the items of an upstream file page by page, and gathering the
// per-item results into one output for the step.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CollectRequest, ReadItemsRequest, ReadItemsResult, StepResult } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { resolveJobPath, stepPath, toJobPath } from './job-files';
import { readTail, RESULT_FILE, STDOUT_FILE } from './run-command';

/** readItems parses the whole source file in memory, so sources are limited to this size. */
export const MAX_ITEMS_FILE_BYTES = 100 * 1024 * 1024;
/** collectResults in json mode parses each item's stdout; bigger outputs are kept as a note, not inlined. */
export const MAX_ITEM_JSON_BYTES = 16 * 1024 * 1024;
const VALUE_MAX_BYTES = 64 * 1024;
const RESULTS_JSON = 'results.json';
// The parsed items of the last source read are kept briefly: a fan-out pages through one file many times.
const CACHE_TTL_MS = 60_000;

type Split = ReadItemsRequest['source']['split'];

let cache: { key: string; items: unknown[]; timer: NodeJS.Timeout } | undefined;

export function splitItems(text: string, split: Split): unknown[] {
  switch (split) {
    case 'lines':
      return text.split('\n').flatMap((l) => {
        const line = l.endsWith('\r') ? l.slice(0, -1) : l;
        return line.trim() === '' ? [] : [line];
      });
    case 'fasta': {
      const records: string[] = [];
      let current: string[] | undefined;
      for (const l of text.split('\n')) {
        const line = l.endsWith('\r') ? l.slice(0, -1) : l;
        if (line.startsWith('>')) {
          if (current) records.push(current.join('\n') + '\n');
          current = [line];
        } else if (current && line.trim() !== '') {
          current.push(line);
        }
        // Text before the first header is not part of any record.
      }
      if (current) records.push(current.join('\n') + '\n');
      return records;
    }
    case 'json': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw badInput(`items file is not valid JSON: ${err instanceof Error ? err.message : err}`);
      }
      if (!Array.isArray(parsed)) throw badInput('items file is not a JSON array');
      return parsed;
    }
    default:
      throw badInput(`unknown split ${JSON.stringify(split)}`);
  }
}

export function createItemActivities(deps: ActivityDeps) {
  async function loadItems(file: string, split: Split): Promise<unknown[]> {
    let abs: string;
    try {
      abs = resolveJobPath(deps.dataDir, file);
    } catch (err) {
      throw badInput(err instanceof Error ? err.message : String(err));
    }
    let st: fs.Stats;
    try {
      st = await fsp.stat(abs);
    } catch (err) {
      throw badInput(`cannot read items file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    if (st.size > MAX_ITEMS_FILE_BYTES) {
      throw ApplicationFailure.create({
        message: `items file ${file} is ${st.size} bytes; at most ${MAX_ITEMS_FILE_BYTES} are supported`,
        type: 'InputTooLarge',
        nonRetryable: true,
      });
    }
    const key = JSON.stringify([abs, split, st.size, st.mtimeMs, st.ino]);
    if (cache?.key === key) return cache.items;
    const items = splitItems(await fsp.readFile(abs, 'utf8'), split);
    if (cache) clearTimeout(cache.timer);
    const timer = setTimeout(() => (cache = undefined), CACHE_TTL_MS);
    timer.unref();
    cache = { key, items, timer };
    return items;
  }

  async function readItems(req: ReadItemsRequest): Promise<ReadItemsResult> {
    const items = await loadItems(req.source.file, req.source.split);
    const offset = Math.max(0, Math.floor(req.offset));
    const limit = Math.max(0, Math.floor(req.limit));
    return { items: items.slice(offset, offset + limit), total: items.length };
  }

  async function collectResults(req: CollectRequest): Promise<StepResult> {
    const ctx = Context.current();
    let stepDir: string;
    try {
      stepDir = resolveJobPath(deps.dataDir, stepPath(req.jobId, req.stepId));
    } catch (err) {
      throw badInput(err instanceof Error ? err.message : String(err));
    }
    await fsp.mkdir(stepDir, { recursive: true });
    const stdoutPath = path.join(stepDir, STDOUT_FILE);
    const outPath = req.mode === 'json' ? path.join(stepDir, RESULTS_JSON) : stdoutPath;
    const tmp = `${outPath}.${process.pid}.tmp`;
    const out = fs.createWriteStream(tmp);
    let lastHeartbeat = Date.now();
    try {
      if (req.mode === 'json') await write(out, '[');
      for (let i = 0; i < req.total; i++) {
        if (Date.now() - lastHeartbeat > 1000) {
          ctx.heartbeat({ collected: i });
          lastHeartbeat = Date.now();
        }
        const itemStdout = await succeededStdout(deps.dataDir, req.jobId, req.stepId, i);
        if (req.mode === 'json') {
          const v = await itemValue(deps.dataDir, itemStdout);
          await write(out, (i === 0 ? '\n' : ',\n') + JSON.stringify(v));
        } else if (itemStdout) {
          // Streams each item's output through; nothing is held in memory.
          await pipeline(fs.createReadStream(itemStdout), out, { end: false });
        }
      }
      if (req.mode === 'json') await write(out, req.total > 0 ? '\n]\n' : ']\n');
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    } catch (err) {
      out.destroy();
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await fsp.rename(tmp, outPath);
    // Downstream `stdin: {step}` reads the step's stdout.log whatever the mode.
    if (outPath !== stdoutPath) await fsp.copyFile(outPath, stdoutPath);

    const bytes = (await fsp.stat(outPath)).size;
    let value: unknown;
    if (req.mode === 'json' && bytes <= VALUE_MAX_BYTES) value = JSON.parse(await fsp.readFile(outPath, 'utf8'));
    return {
      value,
      stdoutFile: toJobPath(deps.dataDir, stdoutPath),
      stdoutBytes: bytes,
      stdoutTail: await readTail(stdoutPath),
      artifacts: [toJobPath(deps.dataDir, outPath)],
    };
  }

  return { readItems, collectResults };
}

/** The stdout file of item i if its run succeeded (runCommand leaves result.json only then). */
async function succeededStdout(dataDir: string, jobId: string, stepId: string, i: number): Promise<string | undefined> {
  const itemDir = resolveJobPath(dataDir, stepPath(jobId, stepId, i));
  let result: StepResult;
  try {
    result = JSON.parse(await fsp.readFile(path.join(itemDir, RESULT_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const file = result.stdoutFile ? resolveJobPath(dataDir, result.stdoutFile) : path.join(itemDir, STDOUT_FILE);
  return (await fsp.stat(file).catch(() => undefined))?.isFile() ? file : undefined;
}

/** An item's entry in results.json: its stdout parsed as JSON, else the text; null when it failed. */
async function itemValue(dataDir: string, file: string | undefined): Promise<unknown> {
  if (!file) return null;
  const size = (await fsp.stat(file)).size;
  if (size > MAX_ITEM_JSON_BYTES) return { truncated: true, bytes: size, stdoutFile: toJobPath(dataDir, file) };
  const text = await fsp.readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    // Plain text output; the final newline is line termination, not content.
    return text.replace(/\r?\n$/, '');
  }
}

function write(stream: fs.WriteStream, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.write(chunk)) resolve();
    else {
      const onError = (err: Error) => reject(err);
      stream.once('error', onError);
      stream.once('drain', () => {
        stream.off('error', onError);
        resolve();
      });
    }
  });
}

function badInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'BadInput', nonRetryable: true });
}
