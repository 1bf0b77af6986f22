/**
 * The gateway's graphql-ws endpoint (protocol `graphql-transport-ws`), on the gateway's HTTP server
 * and the same path as GraphQL over HTTP.
 *
 * graphql-ws's `makeServer` speaks the protocol; this module is its WebSocket transport (the same as
 * graphql-ws/use/ws, plus what we need around it: connection authentication, a send that never throws
 * on a socket being torn down, slow-client drops, keep-alive and a graceful shutdown).
 *
 * Close codes a client can see:
 *   4401 Unauthorized      the access token in connection_init has expired
 *   4403 Forbidden         the access token is malformed, invalid or revoked
 *   1013 Try Again Later   slow consumer: the client did not read its events (bounded buffer), or
 *                          rate limited: the connection is over its caller's request budget
 *                          (reason "Rate limited: retry in N s")
 *   1001 Going Away        the gateway is shutting down (after completing every subscription)
 *   4400/4406/4408/4409/4429/4500  graphql-ws protocol errors
 */
import type http from 'node:http';
import type { ApolloGateway } from '@apollo/gateway';
import type { DocumentNode, ExecutionArgs, ExecutionResult, FormattedExecutionResult, GraphQLError as GraphQLErrorType, GraphQLSchema, ValidationRule } from 'graphql';
import { getOperationAST, GraphQLError, parse, specifiedRules, validate } from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import type { Context } from 'graphql-ws';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import { decodeJwt } from 'jose';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { Identity, Logger, QueryLimits, SessionDenyList } from '@shop/platform';
import { badRequest, DEFAULT_QUERY_LIMITS, keepAlive, maskError, publicError, queryArmor, serviceUnavailable, unauthenticated } from '@shop/platform';
import type { AccessTokenVerifier } from '../auth';
import type { EdgeChecks } from './admission';
import { edgeGuards, guardConnect, guardSubscribe, rateLimitedCloseReason } from './admission';
import { bearerToken } from '../auth';
import { ClientStream } from './client-stream';
import type { SubscriptionPlan } from './federated-plan';
import { planSubscription } from './federated-plan';
import { sessionEnded, SubscriptionHub } from './hub';
import { subscriptionMetrics } from './metrics';
import { UpstreamConnections } from './upstream';
import type { UpstreamOptions } from './upstream';

/** Root fields whose events are the same for every caller (the contract: "any client, no sign-in"). */
export const DEFAULT_PUBLIC_ROOT_FIELDS: readonly string[] = ['stockChanged'];

export interface SubscriptionGatewayOptions {
  /** Signs the caller's identity for the subgraphs (the same secret as for HTTP). */
  readonly internalAuthSecret: string;
  /** Lifetime of the signature of each upstream handshake. Default 10 s. */
  readonly internalRequestTtlSeconds?: number;
  /**
   * Root fields whose events do not depend on the caller: every client shares one anonymous upstream
   * subscription per operation and variables. Default {@link DEFAULT_PUBLIC_ROOT_FIELDS}.
   */
  readonly publicRootFields?: readonly string[];
  /** WebSocket path. Default '/graphql'. */
  readonly path?: string;
  /** Ping interval towards clients; a client whose pong is later than as long is dropped. Default 12 s. */
  readonly keepAliveMs?: number;
  /** Events held for one client subscription that the client does not read; one more drops the client. Default 64. */
  readonly maxPendingEvents?: number;
  /** Subscriptions one connection may hold at once. Default 100. */
  readonly maxSubscriptionsPerConnection?: number;
  /** Events of one group executed concurrently (delivered in order). Default 8. */
  readonly maxConcurrentEvents?: number;
  /**
   * How often each connection's access token is verified again. A revoked session ends its
   * subscriptions at once through the deny list (`AttachContext.revocations`); this is the
   * backstop (a gateway started without one). Default 30 s.
   */
  readonly reverifyIntervalMs?: number;
  /** On shutdown, time given to clients to take their last events and `complete`s. Default 2 s. */
  readonly shutdownGraceMs?: number;
  /** Upstream (gateway -> subgraph) keep-alive and reconnection backoff. */
  readonly upstream?: Omit<UpstreamOptions, 'internalAuthSecret' | 'logger'>;
  /** Query limits, as for HTTP. Default {@link DEFAULT_QUERY_LIMITS} (the gateway's and subgraphs'). */
  readonly limits?: Partial<QueryLimits>;
}

/** What the gateway's `attach` hook gets (the gateway gives all of it; the edge checks are optional for tests of the transport alone). */
export interface AttachContext extends EdgeChecks {
  readonly logger: Logger;
  readonly verifier: AccessTokenVerifier;
  /** The client's address of an upgrade request, as the gateway computes it for HTTP (trust-proxy included). Default: the socket peer. */
  readonly clientAddress?: (req: http.IncomingMessage) => string | undefined;
  /** The gateway's deny list: a revoked session's subscriptions end the moment it lands there. */
  readonly revocations?: SessionDenyList;
}

/** This transport, as the guards see it. */
const WS_TRANSPORT = { kind: 'ws' } as const;

export interface SubscriptionServer {
  /** Client connections open now. */
  readonly connectionCount: number;
  /** Upstream subscriptions open now. */
  readonly upstreamCount: number;
  /** Completes every subscription, closes every socket (1001), closes the upstream connections. */
  dispose(): Promise<void>;
}

/** Per client connection. */
class Connection {
  identity: Identity | null = null;
  /** The access token of connection_init (verified again periodically). */
  token: string | null = null;
  /** The session was revoked after the connection opened: no new subscriptions. */
  revoked = false;
  /** The client's address (rate budgets of anonymous callers). */
  address: string | undefined;
  ctx: Context<Record<string, unknown>, Connection> | undefined;
  readonly streams = new Set<ClientStream>();
  private dropped = false;

  constructor(
    readonly socket: WebSocket,
    private readonly logger: Logger,
  ) {}

  /** Drops a client that does not read: clear reason, then a hard close if it cannot even take that. */
  dropSlow(stream: ClientStream, maxPending: number): void {
    if (this.dropped) return;
    this.dropped = true;
    subscriptionMetrics.droppedSlowClients.inc();
    this.logger.warn({ rootField: stream.rootField, maxPending, subscriptions: this.streams.size }, 'dropping a slow subscription client');
    this.socket.close(1013, `Slow consumer: more than ${maxPending} undelivered events; dropped`);
    setTimeout(() => this.socket.terminate(), 1_000).unref();
  }
}

interface SubscribeContext {
  readonly connection: Connection;
  readonly plan: SubscriptionPlan;
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly subgraphUrl: string;
}

const SUBSCRIBE_CONTEXT = Symbol('subscribe context');

/** A parsed and validated document, or why it is not one. */
type CheckedDocument = { readonly document: DocumentNode } | { readonly errors: readonly GraphQLErrorType[] };
/** Documents kept parsed and validated per schema (oldest evicted first). */
const DOCUMENT_CACHE_SIZE = 500;
/** Longer documents are not cached, which bounds the cache's memory whatever clients send (typical subscriptions are < 1 KiB). */
const CACHED_DOCUMENT_MAX_LENGTH = 4_096;

/** Starts the gateway's graphql-ws endpoint on `httpServer` (see the module comment). */
export function startSubscriptionServer(httpServer: http.Server, gateway: ApolloGateway, attach: AttachContext, options: SubscriptionGatewayOptions): SubscriptionServer {
  const { logger, verifier } = attach;
  const maxPending = options.maxPendingEvents ?? 64;
  const maxPerConnection = options.maxSubscriptionsPerConnection ?? 100;
  // The gateway's safelist and rate budgets, as the guards every subscription transport runs.
  const guards = edgeGuards(attach);
  const limits = { ...DEFAULT_QUERY_LIMITS, ...options.limits };
  const maxTokens = limits.maxTokens;
  // The token limit is enforced by parse() below.
  const rules: ValidationRule[] = [...specifiedRules, ...queryArmor(limits, { tokensInParser: false }).validationRules];
  const connections = new UpstreamConnections({
    internalAuthSecret: options.internalAuthSecret,
    logger,
    ...(options.internalRequestTtlSeconds ? { internalRequestTtlSeconds: options.internalRequestTtlSeconds } : {}),
    ...options.upstream,
  });
  const hub = new SubscriptionHub(connections, {
    logger,
    publicRootFields: new Set(options.publicRootFields ?? DEFAULT_PUBLIC_ROOT_FIELDS),
    ...(options.maxConcurrentEvents ? { maxConcurrentEvents: options.maxConcurrentEvents } : {}),
    ...(attach.revocations ? { revocations: attach.revocations } : {}),
  });
  const open = new Set<Connection>();
  // Thousands of clients send the same few documents: parse and validate each once per schema and
  // share the AST (it is never mutated), which saves both CPU and the memory of one AST per client.
  const checkedDocuments = new WeakMap<GraphQLSchema, Map<string, CheckedDocument>>();
  const checkDocument = (schema: GraphQLSchema, query: string): CheckedDocument => {
    let cache = checkedDocuments.get(schema);
    if (!cache) {
      cache = new Map();
      checkedDocuments.set(schema, cache);
    }
    const hit = cache.get(query);
    if (hit) return hit;
    let checked: CheckedDocument;
    try {
      const document = parse(query, { maxTokens });
      const errors = validate(schema, document, rules);
      checked = errors.length
        ? { errors: errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } })) }
        : { document };
    } catch (error) {
      checked = { errors: [publicError('GRAPHQL_PARSE_FAILED', error instanceof Error ? error.message : 'Syntax error')] };
    }
    if (query.length > CACHED_DOCUMENT_MAX_LENGTH) return checked;
    cache.set(query, checked);
    if (cache.size > DOCUMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    return checked;
  };
  let stopping = false;

  const format = (result: ExecutionResult): FormattedExecutionResult => ({
    ...(result.data !== undefined ? { data: result.data } : {}),
    ...(result.errors?.length ? { errors: result.errors.map((e) => maskError(toFormatted(e), e, logger)) } : {}),
  });

  const graphqlWs = makeServer<Record<string, unknown>, Connection>({
    // Subscriptions only reach `subscribe` below, after onSubscribe built their execution arguments.
    schema: () => currentSchema(gateway),
    onConnect: async (ctx) => {
      const connection = ctx.extra;
      connection.ctx = ctx;
      if (stopping) {
        connection.socket.close(1001, 'Server shutting down');
        return false;
      }
      const auth = await authenticate(ctx.connectionParams, verifier);
      if ('close' in auth) {
        connection.socket.close(auth.close.code, auth.close.reason);
        return false;
      }
      connection.identity = auth.identity;
      connection.token = auth.token;
      const refused = await guardConnect(guards, { identity: auth.identity, clientAddress: connection.address, transport: 'ws' });
      if (refused) {
        if (refused.extensions['code'] === 'RATE_LIMITED') connection.socket.close(1013, rateLimitedCloseReason(refused));
        else connection.socket.close(CloseCode.Forbidden, refused.message.slice(0, 120));
        return false;
      }
      return true;
    },
    onSubscribe: async (ctx, _id, payload) => {
      const connection = ctx.extra;
      if (stopping) return [serviceUnavailable('The server is shutting down; subscribe again in a moment.')];
      if (connection.revoked || (connection.identity && attach.revocations?.isRevoked(connection.identity.sessionId))) {
        connection.revoked = true;
        return [sessionEnded()];
      }
      if (connection.identity && connection.identity.exp <= Date.now() / 1000) {
        return [unauthenticated('Your session has expired; reconnect with a fresh access token.')];
      }
      if (connection.streams.size >= maxPerConnection) {
        return [badRequest(`At most ${maxPerConnection} subscriptions per connection.`)];
      }
      const schema = currentSchema(gateway);
      const checked = checkDocument(schema, payload.query);
      if ('errors' in checked) return checked.errors;
      const { document } = checked;
      const operationName = payload.operationName ?? undefined;
      const operation = getOperationAST(document, operationName);
      if (!operation) return [publicError('OPERATION_RESOLUTION_FAILURE', 'Unable to identify the operation (give an operationName).')];
      if (operation.operation !== 'subscription') {
        return [badRequest('This WebSocket serves subscriptions only; send queries and mutations with POST /graphql.')];
      }
      const refusal = await guardSubscribe(guards, { identity: connection.identity, clientAddress: connection.address, transport: WS_TRANSPORT }, payload, operation);
      if (refusal) return [refusal];
      const variables = (payload.variables ?? {}) as Record<string, unknown>;
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
      if (coerced.errors) return coerced.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { code: 'BAD_USER_INPUT' } }));
      let plan: SubscriptionPlan;
      try {
        plan = planSubscription(gateway, document, operationName, `${payload.query}\u0000${operationName ?? ''}`);
      } catch (error) {
        logger.error({ err: error }, 'could not plan a subscription');
        return [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')];
      }
      const subgraphUrl = plan.internals.serviceMap[plan.subgraph]?.dataSource.url;
      if (!subgraphUrl) {
        logger.error({ subgraph: plan.subgraph }, 'no URL for the subgraph owning a subscription');
        return [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')];
      }
      const context: SubscribeContext = { connection, plan, query: payload.query, variables, subgraphUrl };
      const args: ExecutionArgs = { schema, document, variableValues: variables, contextValue: { [SUBSCRIBE_CONTEXT]: context } };
      if (operationName) args.operationName = operationName;
      return args;
    },
    subscribe: async (args) => {
      const context = (args.contextValue as { [SUBSCRIBE_CONTEXT]: SubscribeContext })[SUBSCRIBE_CONTEXT];
      const { connection, plan } = context;
      let expiry: NodeJS.Timeout | undefined;
      const stream = new ClientStream({
        rootField: plan.rootField,
        maxPending,
        onOverflow: (s) => connection.dropSlow(s, maxPending),
        onClose: (s) => {
          clearTimeout(expiry);
          connection.streams.delete(s);
        },
      });
      connection.streams.add(stream);
      const identity = connection.identity;
      if (identity) {
        // Ends the subscription when the token does; setTimeout caps at ~24 days, tokens live minutes.
        const ms = Math.min(2 ** 31 - 1, Math.max(0, identity.exp * 1000 - Date.now()));
        expiry = setTimeout(() => {
          stream.finish({ errors: [unauthenticated('Your session has expired; subscribe again with a fresh access token.')] });
        }, ms);
        expiry.unref();
      }
      try {
        hub.attach({ plan, query: context.query, variables: context.variables, identity, stream, subgraphUrl: context.subgraphUrl });
      } catch (error) {
        logger.error({ err: error }, 'could not open a subscription upstream');
        stream.finish({ errors: [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')] });
      }
      return stream;
    },
    onNext: (_ctx, _id, _payload, _args, result) => format(result),
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => maskError(e.toJSON(), e, logger)),
  });

  const wss = new WebSocketServer({
    server: httpServer,
    path: options.path ?? '/graphql',
    maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => handleProtocols(protocols),
  });
  const keepAliveMs = options.keepAliveMs ?? 12_000;
  // One timer for every connection: verifying an HS256 token and the deny list costs microseconds.
  const reverify = setInterval(() => {
    for (const connection of open) {
      if (!connection.token || connection.revoked) continue;
      const { token } = connection;
      verifier.verify(token).then(
        () => undefined,
        () => {
          // Expiry has its own timer (a precise error); this is for revoked sessions.
          if (isExpired(token) || connection.revoked) return;
          connection.revoked = true;
          logger.info({ subscriptions: connection.streams.size }, 'ending the subscriptions of a revoked session');
          for (const stream of connection.streams) stream.finish({ errors: [sessionEnded()] });
        },
      );
    }
  }, options.reverifyIntervalMs ?? 30_000);
  reverify.unref();
  wss.on('error', (err) => logger.error({ err }, 'subscription WebSocket server error'));
  wss.on('connection', (socket, request) => {
    const connection = new Connection(socket, logger);
    connection.address = attach.clientAddress ? attach.clientAddress(request) : request.socket.remoteAddress;
    open.add(connection);
    subscriptionMetrics.connections.inc();
    socket.on('error', (err) => logger.warn({ err: err.message }, 'subscription socket error'));
    const stopKeepAlive = keepAlive(socket, keepAliveMs);
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        // Resolves once the socket took the message (or is gone): graphql-ws waits for it before
        // asking a subscription for its next event, which is what makes ClientStream's buffer fill.
        send: (data) =>
          new Promise<void>((resolve) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, () => resolve());
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
      connection,
    );
    socket.once('close', (code, reason) => {
      stopKeepAlive();
      open.delete(connection);
      subscriptionMetrics.connections.dec();
      closed(code, reason.toString()).catch((err: unknown) => logger.error({ err }, 'error closing a subscription connection'));
    });
  });

  let disposing: Promise<void> | undefined;
  return {
    get connectionCount() {
      return open.size;
    },
    get upstreamCount() {
      return hub.upstreamCount;
    },
    dispose: () =>
      (disposing ??= (async () => {
        stopping = true;
        clearInterval(reverify);
        const grace = options.shutdownGraceMs ?? 2_000;
        // 1. Complete every subscription: each client gets its queued events, then `complete`.
        for (const connection of open) for (const stream of connection.streams) stream.finish();
        const deadline = Date.now() + grace;
        while (Date.now() < deadline && [...open].some((c) => c.streams.size > 0 || Object.keys(c.ctx?.subscriptions ?? {}).length > 0)) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // 2. Close the sockets; a client that cannot even take a close frame is cut.
        for (const connection of open) connection.socket.close(1001, 'Server shutting down');
        const closeDeadline = Date.now() + 1_000;
        while (open.size > 0 && Date.now() < closeDeadline) await new Promise((resolve) => setTimeout(resolve, 10));
        for (const connection of open) connection.socket.terminate();
        // 3. Upstream subscriptions and connections.
        hub.closeAll();
        await connections.dispose();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })()),
  };
}

function currentSchema(gateway: ApolloGateway) {
  if (!gateway.schema) throw new Error('The gateway has not loaded a supergraph yet.');
  return gateway.schema;
}

function toFormatted(error: GraphQLErrorType | { message: string }): ReturnType<GraphQLErrorType['toJSON']> {
  return error instanceof GraphQLError ? error.toJSON() : { message: error.message };
}

type AuthOutcome = { identity: Identity | null; token: string | null } | { close: { code: number; reason: string } };


/**
 * The caller of a connection, from `{ authorization: "Bearer <token>" }` in connection_init (any
 * letter case of the key; GraphiQL sends its headers lower-cased). No token: anonymous.
 */
async function authenticate(params: Readonly<Record<string, unknown>> | undefined, verifier: AccessTokenVerifier): Promise<AuthOutcome> {
  const entry = Object.entries(params ?? {}).find(([key]) => key.toLowerCase() === 'authorization');
  if (!entry || entry[1] === undefined || entry[1] === null || entry[1] === '') return { identity: null, token: null };
  if (typeof entry[1] !== 'string') return { close: { code: CloseCode.Forbidden, reason: 'Forbidden: authorization must be a string "Bearer <token>"' } };
  let token: string | null;
  try {
    token = bearerToken(entry[1]);
  } catch {
    return { close: { code: CloseCode.Forbidden, reason: 'Forbidden: authorization must be "Bearer <token>"' } };
  }
  if (!token) return { identity: null, token: null };
  try {
    return { identity: await verifier.verify(token), token };
  } catch {
    if (isExpired(token)) return { close: { code: CloseCode.Unauthorized, reason: 'Unauthorized: your session has expired' } };
    return { close: { code: CloseCode.Forbidden, reason: 'Forbidden: invalid or revoked access token' } };
  }
}

/** Whether a token that failed verification is merely expired (its signature is not trusted here: only its claim is read). */
function isExpired(token: string): boolean {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' && exp <= Date.now() / 1000;
  } catch {
    return false;
  }
}
