// Expansion of a tool's argv template with the job's input. Placeholders are `{field}` or `{a.b.c}`; anything else
// in braces (awk programs, JSON literals) is left alone, so templates need no escaping.

/** Thrown for a placeholder whose field is missing; the caller turns it into a non-retryable failure. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

export const PLACEHOLDER = /\{([A-Za-z_][\w-]*(?:\.[\w-]+)*)\}/g;
const WHOLE_PLACEHOLDER = /^\{([A-Za-z_][\w-]*(?:\.[\w-]+)*)\}$/;

/** Looks up `a.b.c` in the input; a literal key `a.b` wins over the path. */
export function lookupField(input: Record<string, unknown>, field: string): unknown {
  if (Object.prototype.hasOwnProperty.call(input, field)) return input[field];
  let cur: unknown = input;
  for (const part of field.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function requireField(input: Record<string, unknown>, field: string): unknown {
  const value = lookupField(input, field);
  // null counts as missing: an argument can't be "nothing", and silently passing '' or 'null' hides mistakes.
  if (value === undefined || value === null) throw new TemplateError(`missing input field "${field}"`, field);
  return value;
}

/** The text of a value inside an argument: strings as-is, numbers/booleans stringified, anything else JSON. */
export function stringifyValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** Replaces every placeholder in one string; `encode` escapes each value (e.g. encodeURIComponent in a URL). */
export function expandString(
  template: string,
  input: Record<string, unknown>,
  encode: (value: string) => string = (v) => v,
): string {
  return template.replace(PLACEHOLDER, (_m, field: string) => encode(stringifyValue(requireField(input, field))));
}

/** Expands an argv template; an element that is exactly `{field}` with an array value becomes one arg per item. */
export function expandArgv(template: string[], input: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const element of template) {
    const whole = WHOLE_PLACEHOLDER.exec(element);
    if (whole) {
      const value = requireField(input, whole[1]);
      if (Array.isArray(value)) {
        for (const item of value) out.push(stringifyValue(item));
        continue;
      }
    }
    out.push(expandString(element, input));
  }
  return out;
}

/** Single-quotes a string for /bin/sh: nothing inside single quotes is special except the quote itself. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A /bin/sh command line: the template's literal text is shell syntax (the config author's), every substituted
 * value is single-quoted so input can never be interpreted by the shell. */
export function shellCommand(template: string[], input: Record<string, unknown>): string {
  return template
    .map((element) => {
      const whole = WHOLE_PLACEHOLDER.exec(element);
      if (whole) {
        const value = requireField(input, whole[1]);
        if (Array.isArray(value)) return value.map((item) => shellQuote(stringifyValue(item))).join(' ');
      }
      return element.replace(PLACEHOLDER, (_m, field: string) =>
        shellQuote(stringifyValue(requireField(input, field))),
      );
    })
    .join(' ');
}
