// Checks a run's input against the tool's schema before anything runs. Submissions are validated by the API, but a
// pipeline step's input is assembled from templates at run time; a mismatch fails the step at once, field by field,
// instead of running the program with arguments it does not expect.
import { ApplicationFailure } from '@temporalio/common';
import { compileInputSchema, type InputValidator } from '../config/input';
import type { ToolSpec } from '../workflows/types';

const cache = new Map<string, InputValidator>();

export function checkToolInput(tool: ToolSpec, input: Record<string, unknown>): Record<string, unknown> {
  if (!tool.inputSchema) return input;
  const key = JSON.stringify(tool.inputSchema);
  let validate = cache.get(key);
  if (!validate) {
    validate = compileInputSchema(tool.inputSchema, { coerce: true });
    if (cache.size > 500) cache.clear();
    cache.set(key, validate);
  }
  const r = validate(input);
  if (r.ok) return r.value;
  throw ApplicationFailure.create({
    message: `${tool.name}: invalid input: ${r.errors.map((e) => `${e.field || '(input)'} ${e.message}`).join('; ')}`,
    type: 'BadInput',
    nonRetryable: true,
    details: [{ errors: r.errors }],
  });
}
