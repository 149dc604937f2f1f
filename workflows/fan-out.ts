// The `fanOut` workflow: runs one pipeline step over a list of items, each item a `runStep` child, at most
// `concurrency` at once. Items are read a page at a time and the run continues as new every `itemsPerRun` items,
// so neither the item list nor 10,000 children ever sit in one history. Failures beyond the tolerated count fail
// the step; otherwise the collected output holds the successes and the result lists the failures.
import {
  ApplicationFailure,
  ChildWorkflowCancellationType,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  workflowInfo,
} from '@temporalio/workflow';
import { housekeeping } from './activities';
import { fanOutProgressSignal } from './definitions';
import { toJobError } from './errors';
import { runStep } from './run-step';
import { stdinFor } from './stdin';
import { resolveTemplates } from './templates';
import type { FanOutInput, ItemFailure, StepResult, StepRunInput } from './types';

const PAGE = 100;
/** Failures listed individually in the result (the count is always exact). */
const MAX_LISTED_FAILURES = 1000;

export async function fanOut(input: FanOutInput): Promise<StepResult> {
  const { jobId, step, tool } = input;
  const fe = step.forEach!;
  const concurrency = fe.concurrency ?? 10;
  const itemsPerRun = input.itemsPerRun ?? 200;
  let next = input.next ?? 0;
  let total = input.total ?? (input.items ? input.items.length : -1);
  let succeeded = input.succeeded ?? 0;
  let failed = input.failed ?? 0;
  const failures: ItemFailure[] = input.failures ?? [];
  let running = 0;
  let startedThisRun = 0;
  let page: unknown[] = [];
  let pageStart = next;

  const tolerated = () =>
    fe.tolerate?.failures ?? (fe.tolerate?.percent !== undefined ? Math.floor((total * fe.tolerate.percent) / 100) : 0);
  const tooMany = () => failed > tolerated();

  const loadPage = async () => {
    pageStart = next;
    if (input.items) {
      page = input.items.slice(next, next + PAGE);
      return;
    }
    const r = await housekeeping.readItems({ source: input.source!, offset: next, limit: PAGE });
    total = r.total;
    page = r.items;
  };

  let lastReported = -1;
  const report = async (force = false) => {
    const parent = workflowInfo().parent;
    const done = succeeded + failed;
    // About 50 reports over the whole step, whatever its size.
    if (!parent || (!force && done - lastReported < Math.max(1, Math.ceil(total / 50)))) return;
    lastReported = done;
    try {
      await getExternalWorkflowHandle(parent.workflowId).signal(fanOutProgressSignal, {
        stepId: step.id,
        total,
        started: next,
        succeeded,
        failed,
      });
    } catch (err) {
      log.warn('progress signal to the pipeline failed', { error: String(err) });
    }
  };

  const runItem = async (index: number, item: unknown) => {
    const run: StepRunInput = {
      jobId,
      stepId: step.id,
      item: index,
      tool,
      input: resolveTemplates(step.input ?? {}, {
        input: input.pipelineInput,
        steps: input.upstream,
        item,
      }) as Record<string, unknown>,
      stdin: stdinFor(step.stdin, input.pipelineInput, input.upstream, item),
      resourceCapacities: input.resourceCapacities,
    };
    try {
      await executeChild(runStep, {
        workflowId: `${jobId}--${step.id}--${index}`,
        args: [run],
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
      succeeded++;
    } catch (err) {
      if (isCancellation(err)) throw err;
      failed++;
      const e = toJobError(err);
      if (failures.length < MAX_LISTED_FAILURES) failures.push({ index, message: e.message, exitCode: e.exitCode });
    } finally {
      running--;
    }
    await report();
  };

  await loadPage();
  const pending: Promise<void>[] = [];
  while (!tooMany() && next < total && startedThisRun < itemsPerRun) {
    await condition(() => running < concurrency || tooMany());
    if (tooMany()) break;
    if (next - pageStart >= page.length) {
      await loadPage();
      if (!page.length) break;
    }
    const index = next++;
    running++;
    startedThisRun++;
    pending.push(runItem(index, page[index - pageStart]));
  }
  // Items already started finish (or fail) before the step ends or the run continues as new.
  await Promise.all(pending);

  if (!tooMany() && next < total) {
    await continueAsNew<typeof fanOut>({ ...input, next, total, succeeded, failed, failures });
  }
  await report(true);
  const result = await housekeeping.collectResults({ jobId, stepId: step.id, total, mode: fe.collect ?? 'json' });
  result.items = { total, succeeded, failed, failures };
  if (tooMany()) {
    throw ApplicationFailure.create({
      message: `${failed} of ${total} items failed (${tolerated()} tolerated)`,
      type: 'FanOutFailed',
      nonRetryable: true,
      details: [{ step: step.id, items: result.items }],
    });
  }
  return result;
}
