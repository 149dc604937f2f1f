// Validation of job input against a tool's or pipeline's JSON Schema (ajv), reported field by field.
// Defaults from the schema are filled in, so the job runs with exactly the input it was validated with.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface FieldError {
  /** JSON pointer of the offending field ('' for the input as a whole). */
  field: string;
  message: string;
}

export type InputCheck = { ok: true; value: Record<string, unknown> } | { ok: false; errors: FieldError[] };

export type InputValidator = (input: unknown) => InputCheck;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
addFormats(ajv);
// Pipeline step inputs are built from templates, so "8" from an upstream step may stand for the integer 8.
const coercingAjv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: true });
addFormats(coercingAjv);

/** Compiles a schema; throws with ajv's explanation if the schema itself is invalid. With `coerce`, strings that
 * spell a number or boolean are accepted (and converted) where the schema wants one. */
export function compileInputSchema(
  schema: Record<string, unknown> | undefined,
  opts: { coerce?: boolean } = {},
): InputValidator {
  const validate: ValidateFunction = (opts.coerce ? coercingAjv : ajv).compile(schema ?? { type: 'object' });
  return (input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      return { ok: false, errors: [{ field: '', message: 'input must be a JSON object' }] };
    }
    const value = structuredClone(input) as Record<string, unknown>;
    if (validate(value)) return { ok: true, value };
    return { ok: false, errors: (validate.errors ?? []).map(fieldError) };
  };
}

function fieldError(e: ErrorObject): FieldError {
  // `required` errors point at the parent; name the missing property itself.
  if (e.keyword === 'required') {
    return {
      field: `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`,
      message: 'is required',
    };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return { field: `${e.instancePath}/${extra}`, message: 'is not allowed' };
  }
  return { field: e.instancePath, message: e.message ?? e.keyword };
}
