/**
 * The gateway's subscription server: the shared core (core.ts) and its transports on the gateway's
 * HTTP server and path: graphql-ws (protocol `graphql-transport-ws`, this file), SSE (sse.ts, the
 * graphql-sse protocol) and multipart HTTP (multipart.ts, Apollo's `subscriptionSpec="1.0"`).
 *
 * graphql-ws's `makeServer` speaks its protocol; this module is its WebSocket transport (the same
 * as graphql-ws/use/ws, plus a send that never throws on a socket being torn down, keep-alive and
 * the drops the core asks for).
 *
 * Close codes a WebSocket client can see:
 *   4401 Unauthorized      the access token in connection_init has expired
 *   4403 Forbidden         the access token is malformed, invalid or revoked
 *   1013 Try Again Later   slow consumer: the client did not read its events (bounded buffer), or
 *                          rate limited (reason `Rate limited: retry in N s`; graphql-ws clients retry
 *                          it with back-off, where 4429 would be terminal)
 *   1001 Going Away        the gateway is shutting down (after completing every subscription)
 *   4400/4406/4408/4409/4429/4500  graphql-ws protocol errors
 */
import type http from 'node:http';
import type { ApolloGateway } from '@apollo/gateway';
import type { RequestHandler } from 'express';
import type { FormattedExecutionResult, GraphQLError } from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { keepAlive } from '@shop/platform';
import type { AttachContext, ClientSession, DropReason, SubscriptionCoreOptions } from './core';
import { SubscriptionCore } from './core';
import type { Corkable } from './hub';
import { BatchedWrites, jsonOnce, SerialisedPayload, spliceSerialised } from './hub';
import { rateLimitedCloseReason } from './admission';
import { multipartSubscriptions } from './multipart';
import { sseSubscriptions } from './sse';

export interface SubscriptionGatewayOptions extends SubscriptionCoreOptions {
  /** WebSocket path. Default '/graphql'. */
  readonly path?: string;
  /** Ping interval towards WebSocket clients; a client whose pong is later than as long is dropped. Default 12 s. */
  readonly keepAliveMs?: number;
  /** Heartbeat interval of SSE and multipart responses (a comment / an empty part). Default 5 s for multipart, 12 s for SSE. */
  readonly httpHeartbeatMs?: number;
}

export interface SubscriptionServer {
  /** Client connections open now (WebSocket, SSE streams and multipart responses). */
  readonly connectionCount: number;
  /** Upstream subscriptions open now. */
  readonly upstreamCount: number;
  /** POST/GET/PUT/DELETE /graphql handler of the SSE and multipart transports (passes anything else on). */
  readonly http: RequestHandler;
  /** Completes every subscription, closes every connection, closes the upstream connections. */
  dispose(): Promise<void>;
}

/** Starts the gateway's subscription endpoint on `httpServer` (see the module comment). */
export function startSubscriptionServer(httpServer: http.Server, gateway: ApolloGateway, attach: AttachContext, options: SubscriptionGatewayOptions): SubscriptionServer {
  const { logger } = attach;
  const core = new SubscriptionCore(gateway, attach, options);
  const graphqlWs = makeServer<Record<string, unknown>, SocketExtra>({
    // Subscriptions only reach `subscribe` below, after onSubscribe built their execution arguments.
    schema: () => {
      if (!gateway.schema) throw new Error('The gateway has not loaded a supergraph yet.');
      return gateway.schema;
    },
    onConnect: async (ctx) => {
      const { socket } = ctx.extra;
      // { authorization: "Bearer …" } in connection_init, any letter case of the key (GraphiQL sends its headers lower-cased).
      const entry = Object.entries(ctx.connectionParams ?? {}).find(([key]) => key.toLowerCase() === 'authorization');
      const connected = await core.connect({ kind: 'ws', drop: (reason, message) => dropSocket(socket, reason, message) }, { authorization: entry?.[1], clientAddress: ctx.extra.clientAddress });
      if ('refusal' in connected) {
        socket.close(closeCodeOf(connected.refusal), closeReasonOf(connected.refusal));
        return false;
      }
      ctx.extra.session = connected.session;
      return true;
    },
    onSubscribe: async (ctx, _id, payload) => core.prepare(ctx.extra.session!, payload),
    subscribe: async (args) => core.start(args),
    // The group's formatted result, serialised once for all its clients (hub.ts).
    onNext: (_ctx, _id, _payload, _args, result) => new SerialisedPayload(jsonOnce(core.format(result))) as unknown as FormattedExecutionResult,
    onError: (_ctx, _id, _payload, errors) => core.formatErrors(errors),
  });

  const wss = new WebSocketServer({
    server: httpServer,
    path: options.path ?? '/graphql',
    maxPayload: 1024 * 1024,
    // No set of every client (the core knows its sessions; dispose drops them): less per connection.
    clientTracking: false,
    handleProtocols: (protocols) => handleProtocols(protocols),
  });
  const keepAliveMs = options.keepAliveMs ?? 12_000;
  wss.on('error', (err) => logger.error({ err }, 'subscription WebSocket server error'));
  wss.on('connection', (socket, request) => {
    // The client's address as the gateway computes it for HTTP (trusted proxies included): rate budgets are per address.
    const extra: SocketExtra = { socket, clientAddress: attach.clientAddress?.(request) ?? request.socket.remoteAddress };
    socket.on('error', (err) => logger.warn({ err: err.message }, 'subscription socket error'));
    const stopKeepAlive = keepAlive(socket, keepAliveMs);
    const batch = new BatchedWrites((socket as unknown as { _socket?: Corkable })._socket);
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        // Resolves once the socket took the message (or is gone): graphql-ws waits for it before
        // asking a subscription for its next event, which is what makes ClientStream's buffer fill.
        send: (data) =>
          new Promise<void>((resolve) => {
            const frame = spliceSerialised(data);
            if (socket.readyState !== socket.OPEN) return resolve();
            batch.hold();
            socket.send(frame, () => resolve());
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', (data) => {
            cb(String(data)).catch((err: unknown) => {
              logger.error({ err }, 'error handling a subscription message');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      stopKeepAlive();
      if (extra.session) core.close(extra.session);
      closed(code, reason.toString()).catch((err: unknown) => logger.error({ err }, 'error closing a subscription connection'));
    });
  });

  const sse = sseSubscriptions(core, { logger, ...(options.httpHeartbeatMs ? { heartbeatMs: options.httpHeartbeatMs } : {}) });
  const multipart = multipartSubscriptions(core, { logger, ...(options.httpHeartbeatMs ? { heartbeatMs: options.httpHeartbeatMs } : {}) });
  let disposing: Promise<void> | undefined;
  return {
    get connectionCount() {
      return core.connectionCount;
    },
    get upstreamCount() {
      return core.upstreamCount;
    },
    http: (req, res, next) => sse(req, res, () => multipart(req, res, next)),
    dispose: () =>
      (disposing ??= (async () => {
        await core.dispose();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })()),
  };
}

/** What graphql-ws keeps per socket. */
interface SocketExtra {
  readonly socket: WebSocket;
  /** The client's address (X-Forwarded-For only as far as the gateway's `trustProxy` says). */
  readonly clientAddress: string | undefined;
  session?: ClientSession;
}

/** The close code of a connection the core refused. */
function closeCodeOf(refusal: GraphQLError): number {
  switch (refusal.extensions['code']) {
    case 'UNAUTHENTICATED':
      return CloseCode.Unauthorized; // 4401: the graphql-ws client does not retry it
    case 'FORBIDDEN':
      return CloseCode.Forbidden; // 4403
    case 'SERVICE_UNAVAILABLE':
      return 1001; // going away: the gateway is shutting down
    case 'RATE_LIMITED':
      return 1013; // try again later: graphql-ws clients retry it with back-off (4429 is terminal)
    default:
      return CloseCode.BadRequest; // 4400
  }
}

/** The close reason of a refused connection (at most 123 bytes on the wire). */
function closeReasonOf(refusal: GraphQLError): string {
  return refusal.extensions['code'] === 'RATE_LIMITED' ? rateLimitedCloseReason(refusal) : refusal.message.slice(0, 120);
}

/** The WebSocket side of a drop the core asks for. */
function dropSocket(socket: WebSocket, reason: DropReason, message: string): void {
  if (reason === 'terminate') return socket.terminate();
  if (reason === 'shutdown') return socket.close(1001, message);
  socket.close(1013, message);
  setTimeout(() => socket.terminate(), 1_000).unref();
}
