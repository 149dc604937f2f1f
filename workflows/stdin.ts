// Where a pipeline step's stdin comes from: an upstream step's stdout file, an input field, the fan-out item or
// literal text. Pure code.
import { ApplicationFailure } from '@temporalio/workflow';
import type { StdinSource, StepResult, StepRunInput } from './types';

export function stdinFor(
  source: StdinSource | undefined,
  pipelineInput: Record<string, unknown>,
  results: Record<string, StepResult | undefined>,
  item?: unknown,
): StepRunInput['stdin'] {
  if (!source) return undefined;
  if ('step' in source) {
    const file = results[source.step]?.stdoutFile;
    if (!file) throw ApplicationFailure.nonRetryable(`step ${source.step} left no stdout to pipe`, 'BadInput');
    return { file };
  }
  if ('input' in source) return { text: asText(pipelineInput[source.input]) };
  if ('item' in source) return { text: asText(item) };
  return { text: source.text };
}

function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
