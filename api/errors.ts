import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError, type ZodType } from 'zod';
import type { Logger } from '../platform/logger';

/** An error with an HTTP status and a message meant for the caller. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Formats zod issues as "where: what is wrong" lines. */
export function describeIssues(err: ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message }));
}

/** Parses `value` with `schema` or throws a 400 naming every field that is wrong. */
export function parseOr400<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = describeIssues(parsed.error);
  throw new HttpError(400, `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `no route for ${req.method} ${req.path}`));
};

/** The JSON body of an error answer. */
export interface ErrorBody {
  error: { status: number; message: string; details?: unknown };
}

/**
 * How an error is answered: HttpErrors and body-parser errors become their status with
 * a JSON body `{ error: { status, message, details? } }`; anything else is a 500 with
 * no internals leaked, logged with its stack. Rejections are logged at info.
 */
export function errorAnswer(log: Logger, err: unknown, request: { method: string; path: string }): { status: number; body: ErrorBody } {
  let status = 500;
  let message = 'internal error';
  let details: unknown;
  if (err instanceof HttpError) {
    ({ status, message, details } = err);
  } else if (err instanceof ZodError) {
    status = 400;
    details = { issues: describeIssues(err) };
    message = 'invalid input';
  } else if (isBodyParserError(err)) {
    status = err.status;
    message =
      err.type === 'entity.too.large' ? `request body is larger than the limit of ${err.limit} bytes` : `unreadable request body: ${err.message}`;
  }
  if (status >= 500) log.error({ err, method: request.method, path: request.path }, 'request failed');
  else log.info({ status, method: request.method, path: request.path, message }, 'request rejected');
  return { status, body: { error: { status, message, ...(details === undefined ? {} : { details }) } } };
}

/** The one error handler of the Express app (errorAnswer). */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const { status, body } = errorAnswer(log, err, req);
    res.status(status).json(body);
  };
}

interface BodyParserError {
  status: number;
  type: string;
  message: string;
  limit?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' && err !== null && 'type' in err && 'status' in err && typeof (err as BodyParserError).status === 'number'
  );
}
