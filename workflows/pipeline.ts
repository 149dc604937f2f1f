// The `pipeline` workflow: a DAG of steps from config. A step starts when every step it depends on succeeded;
// it is skipped when one of them failed. Tool steps run as activities, fan-out steps as a `fanOut` child, review
// steps wait for a decision. A failing step fails the job (and cancels its running siblings) unless its
// onFailure says continue or retry. Long pipelines continue as new between steps; a redrive reuses the results
// of steps that already succeeded.
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { fanOutProgressSignal } from './definitions';
import { jobFailure, toJobError } from './errors';
import { fanOut } from './fan-out';
import { endSteps, waitUntil } from './job';
import { pipelineJobStatus } from './initial-status';
import { JobTracker, selfId } from './job-tracker';
import { notifyFinished } from './notify';
import { runReview } from './review';
import { stdinFor } from './stdin';
import { resolveTemplates } from './templates';
import { runTool } from './tool-step';
import type { JobError, JobStatus, PipelineInput, StepResult, StepSpec } from './types';

export async function pipeline(input: PipelineInput): Promise<JobStatus> {
  const spec = input.pipeline;
  const t = new JobTracker(pipelineJobStatus(input), input.carried);
  setHandler(fanOutProgressSignal, (p) => {
    const st = t.step(p.stepId);
    if (!st || st.state !== 'running') return;
    st.items = { total: p.total, started: p.started, succeeded: p.succeeded, failed: p.failed };
    if (p.total) st.progress = (p.succeeded + p.failed) / p.total;
    t.recomputeProgress();
  });

  const results = (): Record<string, StepResult | undefined> =>
    Object.fromEntries(t.status.steps.filter((s) => s.result).map((s) => [s.id, s.result]));
  const specOf = (id: string) => spec.steps.find((s) => s.id === id)!;

  let running = 0;
  let changed = false;
  let fatal: JobError | undefined;
  const steps = new CancellationScope();

  const runStepOnce = async (s: StepSpec): Promise<StepResult> => {
    if (s.review) return { value: await runReview(t, s.id, s.review, input.notify) };
    const tool = spec.tools[s.tool!];
    const upstream = results();
    if (s.forEach) {
      t.startStep(s.id);
      const fe = s.forEach;
      let items: unknown[] | undefined;
      if (fe.input !== undefined) {
        const v = input.input[fe.input];
        if (!Array.isArray(v)) throw ApplicationFailure.nonRetryable(`input.${fe.input} is not an array`, 'BadInput');
        items = v;
      }
      const file = fe.step ? upstream[fe.step]?.stdoutFile : undefined;
      if (fe.step && !file) throw ApplicationFailure.nonRetryable(`step ${fe.step} left no output`, 'BadInput');
      return executeChild(fanOut, {
        workflowId: `${input.jobId}--${s.id}`,
        args: [
          {
            jobId: input.jobId,
            step: s,
            tool,
            pipelineInput: input.input,
            upstream,
            items,
            source: file ? { file, split: fe.split ?? 'lines' } : undefined,
            resourceCapacities: input.resourceCapacities,
          },
        ],
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
    }
    return runTool(
      {
        jobId: input.jobId,
        stepId: s.id,
        tool,
        input: resolveTemplates(s.input ?? {}, { input: input.input, steps: upstream }) as Record<string, unknown>,
        stdin: stdinFor(s.stdin, input.input, upstream),
        resourceCapacities: input.resourceCapacities,
      },
      {
        onQueued: (reason) => t.queueStep(s.id, reason),
        onStarted: () => t.startStep(s.id),
        progressTo: { workflowId: selfId() },
      },
    );
  };

  const runStepWithRetries = async (s: StepSpec): Promise<StepResult> => {
    const extra = s.onFailure === 'retry' ? (s.retries ?? 2) : 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await runStepOnce(s);
      } catch (err) {
        if (isCancellation(err) || attempt > extra || s.review) throw err;
        const st = t.step(s.id)!;
        st.attempt = attempt + 1;
        st.message = `retrying after: ${toJobError(err).message}`;
        t.touch();
        await sleep(Math.min(60_000, 1000 * 2 ** (attempt - 1)));
      }
    }
  };

  const launch = (s: StepSpec) => {
    running++;
    const st = t.step(s.id)!;
    st.state = 'queued';
    st.queuedReason = undefined;
    steps
      .run(() => runStepWithRetries(s))
      .then(
        (result) => t.finishStep(s.id, 'succeeded', { result }),
        (err) => {
          if (isCancellation(err)) return t.finishStep(s.id, 'canceled');
          const error = toJobError(err, s.id);
          error.step = s.id;
          t.finishStep(s.id, 'failed', { error });
          if ((s.onFailure ?? 'fail') !== 'continue' && !fatal) {
            fatal = error;
            steps.cancel();
          }
        },
      )
      .finally(() => {
        running--;
        changed = true;
      });
  };

  const wantsContinueAsNew = () =>
    input.continueAsNewAfterEvents !== undefined
      ? workflowInfo().historyLength > input.continueAsNewAfterEvents
      : workflowInfo().continueAsNewSuggested;

  try {
    if (!input.carried) await waitUntil(t, input.notBefore);
    for (;;) {
      skipBlocked(t, spec.steps);
      const pending = t.status.steps.filter((s) => s.state === 'pending');
      const draining = wantsContinueAsNew();
      if (!fatal && !draining) {
        for (const st of pending) {
          const s = specOf(st.id);
          if ((s.after ?? []).every((a) => t.step(a)?.state === 'succeeded')) launch(s);
        }
      }
      if (running === 0) {
        if (fatal || !t.status.steps.some((s) => s.state === 'pending')) break;
        if (draining) {
          await continueAsNew<typeof pipeline>({ ...input, carried: t.snapshot(), reuse: undefined });
        }
      }
      changed = false;
      await condition(() => changed);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Canceled: wait until running steps have killed their processes and children, then end canceled.
    await CancellationScope.nonCancellable(() => condition(() => running === 0));
    endSteps(t, 'canceled');
    t.setState('canceled');
    await notifyFinished(input.notify, t.snapshot());
    throw err;
  }

  const last = [...t.status.steps].reverse().find((s) => s.result && s.kind !== 'review');
  t.status.result = last?.result;
  if (fatal) {
    endSteps(t, 'skipped');
    t.fail(fatal);
    await notifyFinished(input.notify, t.snapshot());
    throw jobFailure(fatal);
  }
  const failedSteps = t.status.steps.filter((s) => s.state === 'failed').map((s) => s.id);
  if (failedSteps.length) t.status.message = `finished with failed steps (continued): ${failedSteps.join(', ')}`;
  t.setState('succeeded');
  await notifyFinished(input.notify, t.snapshot());
  return t.snapshot();
}

/** Pending steps that depend on a step that failed, was skipped or was canceled can never run. */
function skipBlocked(t: JobTracker, specs: StepSpec[]): void {
  for (let again = true; again;) {
    again = false;
    for (const s of specs) {
      if (t.step(s.id)!.state !== 'pending') continue;
      const blocked = (s.after ?? []).some((a) => ['failed', 'skipped', 'canceled'].includes(t.step(a)?.state ?? ''));
      if (blocked) {
        t.finishStep(s.id, 'skipped');
        again = true;
      }
    }
  }
}
