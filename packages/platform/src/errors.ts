import { GraphQLError } from 'graphql';

/** The error codes of the public contract (`extensions.code`). */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  InsufficientStock: 'INSUFFICIENT_STOCK',
  RateLimited: 'RATE_LIMITED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Invalid input; `field` names the offending input field (e.g. `input.email`). */
export function badUserInput(field: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BadUserInput, field } });
}

export function unauthenticated(message = 'You must be signed in.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.Unauthenticated } });
}

export function forbidden(message = 'You are not allowed to do this.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.Forbidden } });
}

export function notFound(what: string, id: string): GraphQLError {
  return new GraphQLError(`${what} ${id} does not exist.`, { extensions: { code: ErrorCode.NotFound, id } });
}

/** A conflict with existing state; `extra` lands in extensions (e.g. `{ field: 'email' }`). */
export function conflict(message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extra, code: ErrorCode.Conflict } });
}

export function insufficientStock(message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extra, code: ErrorCode.InsufficientStock } });
}

export function rateLimited(retryAfterSeconds: number): GraphQLError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new GraphQLError(`Too many attempts; retry in ${seconds} s.`, {
    extensions: { code: ErrorCode.RateLimited, retryAfterSeconds: seconds },
  });
}

/** The codes a client may see verbatim; anything else is masked as an internal error. */
export const PUBLIC_ERROR_CODES: ReadonlySet<string> = new Set([
  ...Object.values(ErrorCode),
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);
