/**
 * Subscriptions over multipart HTTP on /graphql: Apollo's protocol (what Apollo Client, Apollo
 * Kotlin/iOS and Apollo Router speak). A `POST /graphql` of a subscription with
 * `Accept: multipart/mixed; subscriptionSpec="1.0"` (Apollo Client adds `, application/json`) is
 * answered with `multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"`, one part per event:
 *
 *   --graphql
 *   content-type: application/json; charset=utf-8
 *
 *   {"payload":{"data":{...}}}
 *
 * a heartbeat part `{}` at once and then every 5 s (as Apollo Router sends them, so proxies and
 * clients see a live connection), and `--graphql--` when the subscription completes. A request
 * refused before streaming (a bad token, an invalid document, a limit) answers a JSON GraphQL error
 * with its HTTP status; queries and mutations with this Accept header go on to the query path.
 *
 * Each part is written only once the socket took the previous one, so a client that does not read
 * fills the core's bounded stream and is dropped by the core (slow-client bound).
 */
import type { RequestHandler, Response } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from '@shop/platform';
import { sendGraphqlError } from '@shop/platform';
import type { DropReason, SessionTransport, SubscriptionCore } from './core';
import { httpRefusal } from './core';
import { jsonOnce } from './hub';

/** Apollo Router's heartbeat interval. */
export const DEFAULT_MULTIPART_HEARTBEAT_MS = 5_000;

const BOUNDARY = 'graphql';
const PART_HEAD = `\r\n--${BOUNDARY}\r\ncontent-type: application/json; charset=utf-8\r\n\r\n`;
const END = `\r\n--${BOUNDARY}--\r\n`;

class MultipartTransport implements SessionTransport {
  readonly kind = 'multipart';
  constructor(private readonly res: Response) {}

  drop(reason: DropReason): void {
    if (reason === 'shutdown' && this.res.writable) this.res.end(END);
    else this.res.destroy();
  }
}

/** Whether an Accept header asks for multipart subscriptions (`multipart/mixed` with `subscriptionSpec=1.0`, quoted or not). */
export function acceptsMultipartSubscriptions(accept: string | undefined): boolean {
  return !!accept && /multipart\/mixed[^,]*subscriptionSpec\s*=\s*"?1\.0"?/i.test(accept);
}

/** The multipart transport's request handler (passes on what is not a multipart subscription). */
export function multipartSubscriptions(core: SubscriptionCore, options: { readonly logger: Logger; readonly heartbeatMs?: number }): RequestHandler {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_MULTIPART_HEARTBEAT_MS;
  return (req, res, next) => {
    if (req.method !== 'POST' || !acceptsMultipartSubscriptions(req.headers.accept)) return next();
    const body = req.body as { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown } | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body) || core.isSubscription(body.query, body.operationName) !== true) return next();
    serve(body as { query: string }, res, { authorization: req.headers.authorization, clientAddress: req.ip ?? req.socket.remoteAddress }).catch((err: unknown) => {
      options.logger.error({ err }, 'error serving a multipart subscription');
      if (!res.headersSent) sendGraphqlError(res, req.headers.accept, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else res.destroy();
    });
  };

  async function serve(body: { query: string; variables?: unknown; operationName?: unknown; extensions?: unknown }, res: Response, request: { readonly authorization: string | undefined; readonly clientAddress: string | undefined }): Promise<void> {
    const refuse = (errors: readonly GraphQLFormattedError[]) => {
      const answer = httpRefusal(errors);
      res.writeHead(answer.status, answer.headers).end(answer.body);
    };
    const connected = await core.connect(new MultipartTransport(res), request);
    if ('refusal' in connected) return refuse(core.formatErrors([connected.refusal]));
    const { session } = connected;
    const prepared = await core.prepare(session, {
      query: body.query,
      variables: body.variables && typeof body.variables === 'object' ? (body.variables as Record<string, unknown>) : null,
      operationName: typeof body.operationName === 'string' ? body.operationName : null,
      extensions: body.extensions && typeof body.extensions === 'object' ? (body.extensions as Record<string, unknown>) : null,
    });
    if (Array.isArray(prepared)) {
      core.close(session);
      return refuse(core.formatErrors(prepared));
    }
    const stream = core.start(prepared as Exclude<typeof prepared, readonly unknown[]>);
    res.writeHead(200, { 'content-type': `multipart/mixed; boundary="${BOUNDARY}"; subscriptionSpec="1.0"`, 'cache-control': 'no-cache', connection: 'keep-alive' });
    const write = (chunk: string) => new Promise<void>((resolve) => (res.writable ? res.write(chunk, () => resolve()) : resolve()));
    void write(`${PART_HEAD}{}`);
    const heartbeat = setInterval(() => void write(`${PART_HEAD}{}`), heartbeatMs);
    res.once('close', () => {
      clearInterval(heartbeat);
      void stream.return();
      core.close(session);
    });
    for await (const result of stream) {
      if (!res.writable) break;
      // The group's result, serialised once for all its clients (hub.ts).
      await write(`${PART_HEAD}{"payload":${jsonOnce(core.format(result))}}`);
    }
    clearInterval(heartbeat);
    if (res.writable) res.end(END);
  }
}
