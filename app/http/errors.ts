/**
 * The one error shape of the API, `{ error: { code, message, fields? } }`, and the handler that turns
 * anything thrown into it. Messages are fixed texts chosen here: never a submitted value, a stack,
 * a SQL error or another internal detail.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';

export interface FieldIssue {
  path: string;
  message: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldIssue[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (fields: FieldIssue[]) =>
  new HttpError(400, 'validation_failed', 'The request is invalid', fields);
export const unauthorized = (code = 'unauthenticated', message = 'Authentication is required') =>
  new HttpError(401, code, message);
export const forbidden = () => new HttpError(403, 'forbidden', 'You may not access this resource');
export const notFound = (what = 'Resource') => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string) => new HttpError(409, code, message);
export const unsupportedMediaType = () =>
  new HttpError(415, 'unsupported_media_type', 'The request body must be JSON (application/json)');

export function errorBody(code: string, message: string, fields?: FieldIssue[]) {
  return { error: fields ? { code, message, fields } : { code, message } };
}

export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json(errorBody('not_found', 'No such endpoint'));
};

/** Logs internal failures by class and code only (a driver's message can quote row values). */
export function errorHandler(onInternalError: (err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof HttpError) {
      if (err.headers) res.set(err.headers);
      res.status(err.status).json(errorBody(err.code, err.message, err.fields));
      return;
    }
    // body-parser errors carry `type` and `status`.
    const e = err as { type?: string; status?: number };
    switch (e.type) {
      case 'entity.too.large':
        res.status(413).json(errorBody('payload_too_large', 'The request body is too large'));
        return;
      case 'entity.parse.failed':
        res.status(400).json(errorBody('invalid_json', 'The request body is not valid JSON'));
        return;
      case 'encoding.unsupported':
      case 'charset.unsupported':
        res.status(415).json(errorBody('unsupported_encoding', 'The request body encoding is not supported'));
        return;
      case 'request.aborted':
        res.status(400).json(errorBody('request_aborted', 'The request body was not received completely'));
        return;
      default:
        break;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json(errorBody('bad_request', 'The request could not be processed'));
      return;
    }
    onInternalError(err);
    res.status(500).json(errorBody('internal_error', 'Internal server error'));
  };
}
