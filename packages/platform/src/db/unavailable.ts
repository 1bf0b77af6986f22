/**
 * Telling "the database cannot serve now" (down, restarting, refusing connections: retry later,
 * the request was fine) from every other failure. The GraphQL answer (SERVICE_UNAVAILABLE instead
 * of INTERNAL_SERVER_ERROR) and the event consumers (retry instead of dead-lettering) both ask.
 */

/** SQLSTATEs of a server that cannot serve now: connection exceptions (class 08), shutting down or starting up (57P01-57P03). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123])$/;
/** Socket errors of a server that is not there (node-postgres passes them on as they are). */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** node-postgres' own words for a connection that ended or never came (it gives these no code). */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable)/;
/** pg-pool's words when no connection came within DB_POOL_ACQUIRE_TIMEOUT_MS (an exhausted pool, or a slow connect). */
const POOL_TIMEOUT_MESSAGE = /^timeout exceeded when trying to connect/;

/** Whether `error` (or what it wraps) is the pool's acquire timeout: the service was too busy, the request was fine. */
export function isPoolTimeout(error: unknown): boolean {
  for (const e of wrapped(error)) if (typeof e.message === 'string' && POOL_TIMEOUT_MESSAGE.test(e.message)) return true;
  return false;
}

/** `error` and what it wraps (GraphQL's `originalError`, TypeORM's `driverError`, a `cause`), six deep at most. */
function* wrapped(error: unknown): Generator<{ code?: unknown; message?: unknown; errors?: unknown }> {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 6; depth++) {
    yield e as { code?: unknown; message?: unknown; errors?: unknown };
    const next = e as { originalError?: unknown; driverError?: unknown; cause?: unknown };
    e = next.originalError ?? next.driverError ?? next.cause;
  }
}

/**
 * Whether `error` (or what it wraps: GraphQL's `originalError`, TypeORM's `driverError`, a `cause`)
 * says the database cannot serve now rather than that the request or the code is wrong.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const { code, message, errors } of wrapped(error)) {
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    // An AggregateError (net's happy-eyeballs connect): unavailable when every attempt was refused.
    if (Array.isArray(errors) && errors.length > 0 && errors.every((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}
