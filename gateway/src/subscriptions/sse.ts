/**
 * Subscriptions over Server-Sent Events on /graphql, with graphql-sse (its protocol, both modes):
 *
 * - distinct connections: `POST /graphql` with `Accept: text/event-stream` and the usual JSON body;
 *   the response is the event stream of that one subscription (`next` events, then `complete`).
 * - single connection: `PUT /graphql` reserves a stream (the answer is its token), `GET /graphql`
 *   with `Accept: text/event-stream` and `X-GraphQL-Event-Stream-Token` opens it, each `POST` with
 *   the token (and an `extensions.operationId`) adds a subscription to it, `DELETE ?operationId=`
 *   ends one.
 *
 * The caller is `Authorization: Bearer …` of the request that opens the connection (the POST in
 * distinct mode, the PUT in single mode); an expired token answers 401, an invalid one 403. Every
 * check, limit, the sharing and the slow-client bound are the core's (core.ts).
 *
 * graphql-sse reads each result as soon as it is produced and queues the SSE frames for the
 * response without a bound, so the slow-client bound is kept here: events handed to graphql-sse
 * minus events written to the socket; past the core's bound the connection is cut.
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import type { Request as SseRequest } from 'graphql-sse';
import { createHandler, TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import type { Logger } from '@shop/platform';
import { sendGraphqlError } from '@shop/platform';
import type { ClientSession, DropReason, SessionTransport, SubscriptionCore } from './core';
import { httpRefusal } from './core';

/** A reserved single-connection stream that is not opened within this time is forgotten. */
const RESERVATION_TTL_MS = 30_000;

/** The SSE side of one session: the response it streams on (in single mode, once opened). */
class SseTransport implements SessionTransport {
  readonly kind = 'sse';
  res: Response | undefined;
  /** Results graphql-sse took from the core, and frames of them written to the socket. */
  handed = 0;
  written = 0;

  drop(reason: DropReason): void {
    if (!this.res) return;
    // A shutdown ends the stream cleanly (graphql-sse clients reconnect); the rest cuts it.
    if (reason === 'shutdown') this.res.end();
    else this.res.destroy();
  }
}

interface SseContext {
  res: Response;
  session?: ClientSession;
  transport?: SseTransport;
}

/** The SSE transport's request handler (passes on what is not for it). */
export function sseSubscriptions(core: SubscriptionCore, options: { readonly logger: Logger }): RequestHandler {
  const reservations = new Map<string, { readonly session: ClientSession; readonly transport: SseTransport }>();
  /** A refusal as graphql-sse's response tuple. */
  const refuse = (errors: readonly GraphQLFormattedError[]) => {
    const answer = httpRefusal(errors);
    return [answer.body, { status: answer.status, statusText: STATUS_CODES[answer.status] ?? '', headers: answer.headers }] as const;
  };

  const handler = createHandler<Request, SseContext, undefined>({
    authenticate: async (req) => {
      const token = streamToken(req);
      if (token) {
        const reserved = reservations.get(token);
        if (reserved) {
          req.context.session = reserved.session;
          req.context.transport = reserved.transport;
        }
        return token;
      }
      const transport = new SseTransport();
      const connected = await core.connect(transport, { authorization: req.headers.get('authorization') ?? undefined, clientAddress: req.raw.ip ?? req.raw.socket.remoteAddress });
      if ('refusal' in connected) return refuse(core.formatErrors([connected.refusal]));
      const { session } = connected;
      if (req.method === 'PUT') {
        const reserved = randomUUID();
        reservations.set(reserved, { session, transport });
        setTimeout(() => {
          if (transport.res || !reservations.delete(reserved)) return;
          core.close(session);
        }, RESERVATION_TTL_MS).unref();
        return reserved;
      }
      // Distinct connection: this request's response is the session's stream.
      transport.res = req.context.res;
      req.context.session = session;
      req.context.transport = transport;
      req.context.res.once('close', () => core.close(session));
      return null;
    },
    onConnect: (req) => {
      // The GET that opens a reserved stream: the session now streams on this response.
      const token = streamToken(req);
      const reserved = token ? reservations.get(token) : undefined;
      if (!token || !reserved || reserved.transport.res) return;
      reserved.transport.res = req.context.res;
      req.context.res.once('close', () => {
        reservations.delete(token);
        core.close(reserved.session);
      });
    },
    onSubscribe: async (req, params) => {
      const session = req.context.session;
      if (!session) return [JSON.stringify({ errors: [{ message: 'Stream not found: reserve one with PUT first.', extensions: { code: 'BAD_REQUEST' } }] }), { status: 404, statusText: 'Not Found', headers: { 'content-type': 'application/json; charset=utf-8' } }];
      const prepared = await core.prepare(session, { query: params.query, variables: params.variables ?? null, operationName: params.operationName ?? null, extensions: params.extensions ?? null });
      // Refused: one `next` with the errors, then `complete` (graphql-sse's way for an event stream;
      // it needs the `data` key to tell a result from execution arguments).
      // onNext formats the errors, as every result.
      if (Array.isArray(prepared)) return { data: null, errors: prepared } as ExecutionResult;
      return prepared as Exclude<typeof prepared, readonly unknown[]> & { contextValue: undefined };
    },
    // The core validated the document (with the limits) and cached it.
    validate: () => [],
    subscribe: (args) => core.start(args),
    onNext: (_ctx, req, result) => {
      const transport = req.context.transport;
      if (transport && ++transport.handed - transport.written > core.maxPending) {
        req.context.session?.dropSlow(Object.keys((result as ExecutionResult).data ?? {})[0] ?? 'unknown', core.maxPending, options.logger);
      }
      // Formatted errors are plain objects, which is what graphql-sse serialises anyway.
      return core.format(result as ExecutionResult) as ExecutionResult;
    },
  });

  return (req, res, next) => {
    if (!isSseRequest(req)) return next();
    const context: SseContext = { res };
    handle(req, res, context).catch((err: unknown) => {
      options.logger.error({ err }, 'error serving an SSE subscription request');
      if (!res.headersSent) sendGraphqlError(res, req.headers.accept, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else res.destroy();
    });
  };

  /** graphql-sse's express adapter, with each write awaited and counted (the slow-client bound above). */
  async function handle(req: Request, res: Response, context: SseContext): Promise<void> {
    const sseRequest: SseRequest<Request, SseContext> = {
      method: req.method,
      url: req.originalUrl,
      headers: { get: (key) => headerValue(req.headers[key]) },
      body: (req.body as Record<string, unknown> | undefined) ?? null,
      raw: req,
      context,
    };
    const [body, init] = await handler(sseRequest);
    res.writeHead(init.status, init.statusText, init.headers as Record<string, string>);
    if (!body || typeof body === 'string') {
      res.end(body ?? undefined);
      return;
    }
    const stop = () => void body.return(undefined);
    res.once('close', stop);
    for await (const frame of body) {
      if (!res.writable) break;
      await new Promise<void>((resolve) => res.write(frame, () => resolve()));
      if (frame.startsWith('event: next') && context.transport) context.transport.written++;
    }
    res.off('close', stop);
    res.end();
  }
}

function isSseRequest(req: Request): boolean {
  if (req.headers.accept === 'text/event-stream') return true;
  if (req.method === 'PUT' || req.method === 'DELETE') return true;
  return Boolean(req.headers[TOKEN_HEADER_KEY] ?? (typeof req.query[TOKEN_QUERY_KEY] === 'string' ? req.query[TOKEN_QUERY_KEY] : undefined));
}

function streamToken(req: SseRequest<Request, SseContext>): string | undefined {
  const header = req.headers.get(TOKEN_HEADER_KEY);
  if (header) return header;
  return new URL(req.url, 'http://localhost/').searchParams.get(TOKEN_QUERY_KEY) ?? undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join('\n') : value;
}
