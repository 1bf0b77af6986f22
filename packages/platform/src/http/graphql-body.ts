import type http from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import express from 'express';
import type { GraphQLFormattedError } from 'graphql';
import type { PublicErrorCode } from '../errors';
import { INTERNAL_ERROR, PUBLIC_ERRORS } from '../errors';
import type { Logger } from '../logger';
import { DEFAULT_QUERY_LIMITS } from './query-limits';

/**
 * Answers a GraphQL error the way GraphQL over HTTP has it: a JSON body `{ errors: [...] }`, the
 * registry's HTTP status of the code, and `application/graphql-response+json` when the client
 * accepts it (else `application/json`).
 */
export function sendGraphqlError(res: express.Response, accept: string | undefined, code: PublicErrorCode, message: string, extensions: Record<string, unknown> = {}): void {
  const status = (PUBLIC_ERRORS[code] as { httpStatus?: number }).httpStatus ?? 400;
  const error: GraphQLFormattedError = { message, extensions: { ...extensions, code } };
  const type = accept?.includes('application/graphql-response+json') ? 'application/graphql-response+json' : 'application/json';
  res.status(status).type(`${type}; charset=utf-8`).send(JSON.stringify({ errors: [error] }));
}

/**
 * The body parsing of a GraphQL endpoint: JSON in UTF-8 only, at most `limitBytes` (default the
 * shared limits' `maxBodyBytes`, 1 MiB), `onBody` given the raw bytes (a subgraph's signature
 * check hashes them), and every
 * failure answered as a GraphQL JSON error (never Express's HTML page, never a stack trace):
 * not JSON → 415 UNSUPPORTED_MEDIA_TYPE, too large → 413 PAYLOAD_TOO_LARGE, malformed JSON, invalid
 * UTF-8 or a body that is not an object (`null`) → 400 BAD_REQUEST. GET requests pass through.
 */
export function graphqlBody(options: { readonly limitBytes?: number; readonly onBody?: (req: http.IncomingMessage, body: Buffer) => void } = {}): Array<RequestHandler | ErrorRequestHandler> {
  const limit = options.limitBytes ?? DEFAULT_QUERY_LIMITS.maxBodyBytes;
  const { onBody } = options;
  const contentType: RequestHandler = (req, res, next) => {
    if (req.method !== 'POST') return next();
    const type = req.headers['content-type'];
    if (!type) return sendGraphqlError(res, req.headers.accept, 'UNSUPPORTED_MEDIA_TYPE', 'A POST needs Content-Type: application/json.');
    if (!req.is('application/json')) return sendGraphqlError(res, req.headers.accept, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type.slice(0, 80)} is not supported: send application/json.`);
    next();
  };
  const parseFailure: ErrorRequestHandler = (err: { type?: string; status?: number; charset?: string }, req, res, next) => {
    switch (err.type) {
      case 'entity.too.large':
        return sendGraphqlError(res, req.headers.accept, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes.`, { limit });
      case 'charset.unsupported':
        return sendGraphqlError(res, req.headers.accept, 'UNSUPPORTED_MEDIA_TYPE', `Charset ${String(err.charset).slice(0, 40)} is not supported: send UTF-8.`);
      case 'encoding.unsupported':
        return sendGraphqlError(res, req.headers.accept, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Encoding is not supported: send the body uncompressed.');
      case 'entity.verify.failed':
        return sendGraphqlError(res, req.headers.accept, 'BAD_REQUEST', 'The body is not valid UTF-8.');
      case 'entity.parse.failed':
        return sendGraphqlError(res, req.headers.accept, 'BAD_REQUEST', 'The body is not a JSON object: send {"query": "...", "variables": {...}} as UTF-8 JSON.');
      case 'request.aborted':
      case 'request.size.invalid':
      case 'stream.encoding.set':
        return sendGraphqlError(res, req.headers.accept, 'BAD_REQUEST', 'The request body could not be read.');
      default:
        return next(err);
    }
  };
  // strict: only objects and arrays (so `null` is refused here); invalid UTF-8 fails JSON.parse
  // only as replacement characters, hence the verify step.
  const json = express.json({
    limit,
    strict: true,
    verify: (req, _res, buf) => {
      assertUtf8(buf);
      onBody?.(req, buf);
    },
  });
  return [contentType, json, parseFailure];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function assertUtf8(buf: Buffer): void {
  try {
    utf8.decode(buf);
  } catch {
    throw Object.assign(new Error('The body is not valid UTF-8.'), { status: 400 });
  }
}

/**
 * The last handler of an Express app serving GraphQL: anything no route answered with an error
 * becomes a JSON INTERNAL_SERVER_ERROR (logged here, no details out), instead of Express's HTML
 * page with a stack trace in development.
 */
export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err: { status?: number; expose?: boolean; message?: string }, req, res, next) => {
    if (res.headersSent) return next(err);
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
      return sendGraphqlError(res, req.headers.accept, 'BAD_REQUEST', err.expose && err.message ? err.message : 'Bad request.');
    }
    logger.error({ err, path: req.path }, 'unhandled error in an HTTP route');
    sendGraphqlError(res, req.headers.accept, 'INTERNAL_SERVER_ERROR', INTERNAL_ERROR.message);
  };
}
