// Retrying a finished job: a new job with the same input, linked by retryOf. With from: 'failed' a pipeline is
// redriven — the steps that succeeded keep their results (their files stay where they are) and only the failed
// and later steps run again, with the pipeline definition the first run had.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { LongHaulConfig } from '../config/load';
import { statusQuery } from '../workflows/definitions';
import type { JobInput, PipelineInput, StepResult } from '../workflows/types';
import { SubmitError, submitJob, type Submitted } from './submit';

export async function retryJob(
  client: Client,
  config: LongHaulConfig,
  clientId: string,
  jobId: string,
  opts: { from?: 'start' | 'failed'; admin?: boolean } = {},
): Promise<Submitted> {
  const handle = client.workflow.getHandle(jobId);
  let first;
  try {
    const history = await handle.fetchHistory();
    first = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new SubmitError(`no job ${jobId}`, 404);
    throw err;
  }
  const type = first?.workflowType?.name;
  const payload = first?.input?.payloads?.[0];
  if (!payload || (type !== 'job' && type !== 'pipeline')) throw new SubmitError(`no job ${jobId}`, 404);
  const original = defaultPayloadConverter.fromPayload(payload) as JobInput | PipelineInput;
  if (original.clientId !== clientId && !opts.admin) throw new SubmitError(`no job ${jobId}`, 404);
  const status = await handle.query(statusQuery);
  if (status.state !== 'failed' && status.state !== 'canceled') {
    throw new SubmitError(`job ${jobId} is ${status.state}; only failed or canceled jobs can be retried`, 409);
  }
  // The new job belongs to the original's client, also when an admin retries it.
  const common = { notify: original.notify, labels: original.labels, input: original.input };
  if (type === 'job') {
    const j = original as JobInput;
    return submitJob(
      client,
      config,
      original.clientId,
      { ...common, tool: j.tool.name, review: j.review },
      { retryOf: jobId },
    );
  }
  const p = original as PipelineInput;
  const reuse: Record<string, StepResult> = {};
  if (opts.from === 'failed') {
    for (const s of status.steps) if (s.state === 'succeeded' && s.result) reuse[s.id] = s.result;
  }
  return submitJob(
    client,
    config,
    original.clientId,
    { ...common, pipeline: p.pipeline.name },
    { retryOf: jobId, reuse, pipelineSpec: p.pipeline, continueAsNewAfterEvents: p.continueAsNewAfterEvents },
  );
}
