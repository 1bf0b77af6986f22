import { GraphQLError } from 'graphql';
import type { GraphQLFormattedError } from 'graphql';
import { isDatabaseUnavailable, isPoolTimeout } from './db/unavailable';
import type { Logger } from './logger';

/** What the registry says of one public error code. */
export interface PublicErrorSpec {
  /**
   * The HTTP status of a request refused as a whole with this code: before execution (a bad token,
   * an invalid document), or when nothing could be served (SERVICE_UNAVAILABLE with no data). An
   * error of one field during execution answers 200, as GraphQL over HTTP has it.
   */
  readonly httpStatus?: number;
  /** True when the same request may succeed later as it is: clients see `extensions.retryable: true`. */
  readonly retryable: boolean;
  /** When a client sees it. */
  readonly meaning: string;
}

/**
 * Every error code a client may see in `extensions.code`, declared once: the contract's codes
 * (api.graphql, api-next.graphql) and the GraphQL protocol codes Apollo Server raises. Raise them
 * with {@link publicError} (or the helpers below); {@link maskError} lets exactly these through and
 * turns anything else into INTERNAL_SERVER_ERROR. e2e/foundation/error-codes.test.ts sends each one
 * end to end through the gateway.
 */
export const PUBLIC_ERRORS = {
  BAD_USER_INPUT: { retryable: false, meaning: 'invalid input; extensions.field names the input field' },
  UNAUTHENTICATED: { httpStatus: 401, retryable: false, meaning: 'no valid token, or wrong credentials' },
  FORBIDDEN: { retryable: false, meaning: 'signed in, but not allowed (not the owner, not ADMIN)' },
  NOT_FOUND: { retryable: false, meaning: 'the thing named by an id does not exist' },
  CONFLICT: { retryable: false, meaning: 'conflicts with existing state (duplicate, no longer cancellable, idempotency key reused)' },
  INSUFFICIENT_STOCK: { retryable: false, meaning: 'an inventory change would make stock negative' },
  RATE_LIMITED: { httpStatus: 429, retryable: true, meaning: 'too many requests; extensions.retryAfterSeconds says when to retry' },
  SERVICE_UNAVAILABLE: { httpStatus: 503, retryable: true, meaning: 'a service the operation needs is down, starting or stopping: retry later' },
  GRAPHQL_PARSE_FAILED: { httpStatus: 400, retryable: false, meaning: 'the document is not valid GraphQL syntax' },
  GRAPHQL_VALIDATION_FAILED: { httpStatus: 400, retryable: false, meaning: 'the document does not fit the schema' },
  BAD_REQUEST: { httpStatus: 400, retryable: false, meaning: 'the request is malformed (no query, wrong transport, too many subscriptions)' },
  OPERATION_RESOLUTION_FAILURE: { httpStatus: 400, retryable: false, meaning: 'the document has several operations and no operationName picks one' },
  MAX_TOKENS_LIMIT: { httpStatus: 400, retryable: false, meaning: 'the document has more tokens than the server parses (extensions.limit)' },
  MAX_DEPTH_LIMIT: { httpStatus: 400, retryable: false, meaning: 'the operation nests fields deeper than the limit (extensions.limit)' },
  MAX_ALIASES_LIMIT: { httpStatus: 400, retryable: false, meaning: 'the operation has more aliases than the limit (extensions.limit)' },
  MAX_DIRECTIVES_LIMIT: { httpStatus: 400, retryable: false, meaning: 'the operation has more directives than the limit (extensions.limit)' },
  COST_ESTIMATED_TOO_EXPENSIVE: { httpStatus: 400, retryable: false, meaning: "the operation's estimated cost is above the limit (extensions.limit)" },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, retryable: false, meaning: 'the request body is larger than the server accepts (extensions.limit, in bytes)' },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retryable: false, meaning: 'the request body is not JSON (send Content-Type: application/json, UTF-8)' },
  PERSISTED_QUERY_NOT_LISTED: { httpStatus: 400, retryable: false, meaning: 'the gateway requires persisted operations and this one is not on its safelist' },
  CURSOR_EXPIRED: { retryable: false, meaning: 'a subscription resumed from a cursor older than the event log retains: refetch the current state, then subscribe without resumeFrom' },
  PERSISTED_QUERY_NOT_FOUND: { retryable: false, meaning: 'an automatic persisted query hash the server does not know yet: send the query with it' },
  INTERNAL_SERVER_ERROR: { httpStatus: 500, retryable: false, meaning: 'anything unexpected (logged on the server; no details go out)' },
} as const satisfies Record<string, PublicErrorSpec>;

export type PublicErrorCode = keyof typeof PUBLIC_ERRORS;

/** The codes of a query limit refusal (graphql-armor's limits and the parser's token limit), each naming its limit. */
export type QueryLimitCode = Extract<PublicErrorCode, 'MAX_TOKENS_LIMIT' | 'MAX_DEPTH_LIMIT' | 'MAX_ALIASES_LIMIT' | 'MAX_DIRECTIVES_LIMIT' | 'COST_ESTIMATED_TOO_EXPENSIVE'>;

/** True for a code of the registry. */
export function isPublicErrorCode(code: unknown): code is PublicErrorCode {
  return typeof code === 'string' && Object.hasOwn(PUBLIC_ERRORS, code);
}

/** True for a registry code that is the client's doing (not a server failure: no HTTP 5xx). */
export function isClientErrorCode(code: unknown): boolean {
  if (!isPublicErrorCode(code)) return false;
  const spec: PublicErrorSpec = PUBLIC_ERRORS[code];
  return (spec.httpStatus ?? 400) < 500;
}

export interface PublicErrorOptions {
  /** More extensions (e.g. `{ field: 'input.email' }`); `code` and `retryable` are the registry's. */
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** The whole request failed with it: answer the registry's HTTP status. */
  readonly requestLevel?: boolean;
}

/** An error with a registry code: `extensions.code`, `retryable: true` when the registry says so, and the HTTP status when request-level. */
export function publicError(code: PublicErrorCode, message: string, options: PublicErrorOptions = {}): GraphQLError {
  const spec: PublicErrorSpec = PUBLIC_ERRORS[code];
  const status = options.requestLevel ? spec.httpStatus : undefined;
  return new GraphQLError(message, {
    extensions: {
      ...options.extensions,
      code,
      ...(spec.retryable ? { retryable: true } : {}),
      ...(status !== undefined ? { http: { status } } : {}),
    },
  });
}

/** Invalid input; `field` names the offending input field (e.g. `input.email`). */
export function badUserInput(field: string, message: string): GraphQLError {
  return publicError('BAD_USER_INPUT', message, { extensions: { field } });
}

export function unauthenticated(message = 'You must be signed in.', extensions: Record<string, unknown> = {}): GraphQLError {
  return publicError('UNAUTHENTICATED', message, { extensions });
}

export function forbidden(message = 'You are not allowed to do this.'): GraphQLError {
  return publicError('FORBIDDEN', message);
}

export function notFound(what: string, id: string): GraphQLError {
  return publicError('NOT_FOUND', `${what} ${id} does not exist.`, { extensions: { id } });
}

/** A conflict with existing state; `extra` lands in extensions (e.g. `{ field: 'email' }`). */
export function conflict(message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return publicError('CONFLICT', message, { extensions: extra });
}

export function insufficientStock(message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return publicError('INSUFFICIENT_STOCK', message, { extensions: extra });
}

export function rateLimited(retryAfterSeconds: number): GraphQLError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return publicError('RATE_LIMITED', `Too many attempts; retry in ${seconds} s.`, { extensions: { retryAfterSeconds: seconds } });
}

/** A service the operation needs cannot serve it now (down, starting, stopping): the client retries later. */
export function serviceUnavailable(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return publicError('SERVICE_UNAVAILABLE', message, { extensions });
}

/** A malformed request (wrong transport, missing query, too many subscriptions on one connection). */
export function badRequest(message: string): GraphQLError {
  return publicError('BAD_REQUEST', message);
}

/** What every unexpected error becomes for the client. */
export const INTERNAL_ERROR: GraphQLFormattedError = { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };

/**
 * Hides internal errors from clients: only the registry's codes go out verbatim; a database that
 * cannot serve (down, restarting, refusing connections) is SERVICE_UNAVAILABLE, retryable, like a
 * service that cannot be reached; anything else is logged and masked.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const code = formatted.extensions?.['code'];
  if (isPublicErrorCode(code) && code !== 'INTERNAL_SERVER_ERROR') return formatted;
  const where = formatted.path ? { path: formatted.path } : {};
  if (isDatabaseUnavailable(error)) {
    logger.warn({ err: error, ...where }, 'database unavailable');
    return { ...serviceUnavailable(isPoolTimeout(error) ? 'The service could not get a database connection in time (busy or unreachable); retry later.' : 'The service cannot reach its database; retry later.').toJSON(), ...where };
  }
  logger.error({ err: error, ...where }, 'unexpected error in resolver');
  return { ...INTERNAL_ERROR, ...where };
}
