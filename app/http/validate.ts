/**
 * zod validation of params, query and body. Failures are 400 with the failing fields (path and a
 * fixed message per rule): zod's own messages may quote the input, which must not be echoed.
 */
import type { Request } from 'express';
import type { z } from 'zod';
import { badRequest, unsupportedMediaType, type FieldIssue } from './errors';

const MAX_FIELDS = 20;
const SAFE_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** Whether the value at `path` inside `input` is absent (zod 4 leaves the input out of its issues). */
function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  let v = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return true;
    if (!Object.prototype.hasOwnProperty.call(v, key)) return true;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v === undefined;
}

function message(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return isMissing(input, issue.path)
        ? 'is required'
        : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'unrecognized_keys':
      return 'unknown field';
    case 'invalid_value':
      return issue.values.length <= 10
        ? `must be one of: ${issue.values.map(String).join(', ')}`
        : 'is not allowed';
    case 'too_small':
      return issue.origin === 'string'
        ? `must be at least ${String(issue.minimum)} characters`
        : issue.origin === 'array'
          ? `must have at least ${String(issue.minimum)} items`
          : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'string'
        ? `must be at most ${String(issue.maximum)} characters`
        : issue.origin === 'array'
          ? `must have at most ${String(issue.maximum)} items`
          : `must be at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return `must be a valid ${issue.format === 'regex' ? 'value' : issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'custom':
      // Our own refinements: fixed texts written in the schemas.
      return typeof issue.message === 'string' && issue.message.length <= 80 ? issue.message : 'is invalid';
    default:
      return 'is invalid';
  }
}

function path(where: string, issue: z.core.$ZodIssue): string {
  const segments = [...issue.path];
  if (issue.code === 'unrecognized_keys') {
    // The key names are the caller's input: named only when they look like an identifier.
    const key = issue.keys[0];
    segments.push(key !== undefined && SAFE_SEGMENT.test(key) ? key : '?');
  }
  return [
    where,
    ...segments.map((s) =>
      typeof s === 'number' ? String(s) : SAFE_SEGMENT.test(String(s)) ? String(s) : '?',
    ),
  ].join('.');
}

/** `input`: what was parsed, to tell a missing field from one of the wrong type. */
export function toFieldIssues(where: string, error: z.ZodError, input: unknown): FieldIssue[] {
  return error.issues.slice(0, MAX_FIELDS).map((i) => ({ path: path(where, i), message: message(i, input) }));
}

/** Parses one part of the request or throws a 400 naming the failing fields. */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' | 'params',
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest(toFieldIssues(where, r.error, value));
  return r.data;
}

/** Whether the request has a body (RFC 9112 §6.3: a Transfer-Encoding, or a non-zero Content-Length). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The JSON body, parsed by `schema`. A body the JSON parser left alone (another content type) is
 * refused with 415, not taken as empty: it would be answered as if every field were missing. Checked
 * here, in the routes that read a body, so that other requests pay nothing for it.
 */
export const body = <S extends z.ZodType>(req: Request, schema: S) => {
  if (req.body === undefined && hasBody(req)) throw unsupportedMediaType();
  return parse(schema, req.body ?? {}, 'body');
};
export const query = <S extends z.ZodType>(req: Request, schema: S) => parse(schema, req.query, 'query');
export const params = <S extends z.ZodType>(req: Request, schema: S) => parse(schema, req.params, 'params');
