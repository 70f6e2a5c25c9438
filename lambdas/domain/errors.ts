/** One problem of a request: the shape of `error` and of each item of `errors`. */
export interface FieldError {
  code: string;
  message: string;
  field?: string;
}

/**
 * The one error type of Sundial. Anything thrown that is not an `HttpError` is a bug: the HTTP layer
 * logs it and answers a plain 500 without serialising it.
 */
export abstract class HttpError extends Error {
  abstract readonly statusCode: number;
  abstract readonly code: string;

  constructor(
    message: string,
    /** The request field at fault, as a dotted path (`task_definitions.0.max_attempts`), if any. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** This error as one {@link FieldError}. */
  toFieldError(): FieldError {
    return { code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) };
  }

  /** The wire shape of every error: `{"error": {"code", "message", "field"?}}`. */
  toJSON(): { error: FieldError; errors?: FieldError[] } {
    return { error: this.toFieldError() };
  }
}

/**
 * A 400. Beside `error` (the first problem) it answers `errors`: every problem found in the request,
 * so that a body with three mistakes takes one round trip, not three.
 */
export class BadRequestError extends HttpError {
  readonly statusCode = 400;
  constructor(
    message: string,
    field?: string,
    readonly code: string = 'invalid_request',
    /** All the problems, the first being this one; absent: this one only. */
    readonly problems?: readonly FieldError[],
  ) {
    super(message, field);
  }

  /** A 400 for every problem in `problems` (at least one), the first as `error`. */
  static of(problems: readonly FieldError[]): BadRequestError {
    const [first] = problems;
    if (!first) throw new Error('BadRequestError.of needs at least one problem');
    return new BadRequestError(first.message, first.field, first.code, problems);
  }

  override toJSON(): { error: FieldError; errors: FieldError[] } {
    return { error: this.toFieldError(), errors: this.problems ? [...this.problems] : [this.toFieldError()] };
  }
}

export class UnauthorizedError extends HttpError {
  readonly statusCode = 401;
  readonly code = 'unauthorized';
}

export class NotFoundError extends HttpError {
  readonly statusCode = 404;
  readonly code = 'not_found';
}

export class MethodNotAllowedError extends HttpError {
  readonly statusCode = 405;
  readonly code = 'method_not_allowed';
  constructor(
    message: string,
    /** The methods the path does allow (the `Allow` header). */
    readonly allow: readonly string[],
  ) {
    super(message);
  }
}

export class ConflictError extends HttpError {
  readonly statusCode = 409;
  readonly code = 'conflict';
}

export class PayloadTooLargeError extends HttpError {
  readonly statusCode = 413;
  readonly code = 'payload_too_large';
}

export class UnsupportedMediaTypeError extends HttpError {
  readonly statusCode = 415;
  readonly code = 'unsupported_media_type';
}

/** A dependency (DynamoDB, Step Functions, …) refused for now; the client may retry. */
export class ServiceUnavailableError extends HttpError {
  readonly statusCode = 503;
  readonly code = 'service_unavailable';
}
