// Resolves a pipeline step's input templates: "{input.x}", "{steps.ID.value}", "{steps.ID.stdoutFile}", "{item}",
// "{item.field}". A string that is exactly one placeholder takes the referenced value with its type (so arrays
// and numbers pass through); placeholders inside longer strings are stringified. Pure and deterministic.
import { ApplicationFailure } from '@temporalio/workflow';
import type { StepResult } from './types';

export interface TemplateScope {
  input: Record<string, unknown>;
  steps: Record<string, StepResult | undefined>;
  item?: unknown;
}

const WHOLE = /^\{([A-Za-z_][\w.]*)\}$/;
const ANY = /\{([A-Za-z_][\w.]*)\}/g;

export function resolveTemplates(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(whole[1], scope);
    return value.replace(ANY, (_, ref: string) => stringify(lookup(ref, scope)));
  }
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, scope));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, scope)]));
  }
  return value;
}

function lookup(ref: string, scope: TemplateScope): unknown {
  const [head, ...rest] = ref.split('.');
  let cur: unknown;
  if (head === 'input') cur = scope.input;
  else if (head === 'steps') cur = scope.steps;
  else if (head === 'item') cur = scope.item;
  else throw ApplicationFailure.nonRetryable(`unknown placeholder {${ref}}`, 'BadInput');
  for (const key of rest) {
    if (cur === null || typeof cur !== 'object' || !(key in (cur as object))) {
      throw ApplicationFailure.nonRetryable(`placeholder {${ref}} has no value`, 'BadInput');
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function stringify(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
