/**
 * The gateway's subscription core, shared by every transport (graphql-ws in server.ts, SSE in
 * sse.ts, multipart HTTP in multipart.ts): authentication, limits, planning, sharing (the hub),
 * slow-client bounds, token expiry, revocation (the deny list's pushed revocations at once, and
 * periodic re-verification as the backstop), metrics and shutdown.
 *
 * A transport opens one {@link ClientSession} per client connection (a WebSocket, an SSE stream, a
 * multipart response) with {@link SubscriptionCore.connect}, asks {@link SubscriptionCore.prepare} to check each subscribe request, and
 * {@link SubscriptionCore.start} for the stream of results to send. Whatever applies to every
 * subscription (a revoked session, a rate budget) belongs here (a {@link SubscriptionGuard}
 * or the core itself), not in a transport: a transport only frames results and refusals and knows
 * how to {@link SessionTransport.drop | drop} its connection.
 */
import type http from 'node:http';
import type { ApolloGateway } from '@apollo/gateway';
import type { DocumentNode, ExecutionArgs, ExecutionResult, FormattedExecutionResult, GraphQLError as GraphQLErrorType, GraphQLFormattedError, GraphQLSchema, OperationDefinitionNode, ValidationRule } from 'graphql';
import { getOperationAST, GraphQLError, parse, specifiedRules, validate } from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { decodeJwt } from 'jose';
import type { Identity, Logger, PublicErrorSpec, QueryLimits, SessionDenyList } from '@shop/platform';
import { badRequest, badUserInput, DEFAULT_QUERY_LIMITS, MAX_CURSOR_LENGTH, RESUME_FROM, exceedsTokenLimit, forbidden, isPublicErrorCode, PUBLIC_ERRORS, publicError, queryLimitRules, serviceUnavailable, unauthenticated } from '@shop/platform';
import type { AccessTokenVerifier } from '../auth';
import { bearerToken } from '../auth';
import type { EdgeChecks } from './admission';
import { formatForClient } from '../http-answers.plugin';
import { ClientStream } from './client-stream';
import type { SubscriptionPlan } from './federated-plan';
import { planSubscription } from './federated-plan';
import { SubscriptionHub } from './hub';
import { subscriptionMetrics } from './metrics';
import { UpstreamConnections } from './upstream';
import type { UpstreamOptions } from './upstream';

/** Root fields whose events are the same for every caller (the contract: "any client, no sign-in"). */
export const DEFAULT_PUBLIC_ROOT_FIELDS: readonly string[] = ['stockChanged'];

/** The transports a client subscribes over (a bounded metrics/log label). */
export type TransportKind = 'ws' | 'sse' | 'multipart';

/**
 * Why the core ends a client connection: `slow` (it did not read: more than the bound of events
 * undelivered), `shutdown` (every subscription completed, the gateway is stopping) or `terminate`
 * (it did not go after `shutdown`: cut it).
 */
export type DropReason = 'slow' | 'shutdown' | 'terminate';

/** What the core needs of a transport's connection. */
export interface SessionTransport {
  readonly kind: TransportKind;
  /** Ends the connection for `reason` (a WebSocket close code, the end of an HTTP response). */
  drop(reason: DropReason, message: string): void;
}

/** One client connection of any transport and its caller. */
export class ClientSession {
  /** Subscriptions of this session streaming now. */
  readonly streams = new Set<ClientStream>();
  /** The session was revoked after it opened: no new subscriptions. */
  revoked = false;
  private dropped = false;

  constructor(
    readonly transport: SessionTransport,
    /** The verified caller, null when anonymous. */
    readonly identity: Identity | null,
    /** The access token (verified again periodically), null when anonymous. */
    readonly token: string | null,
    /** The client's address as the gateway sees it. */
    readonly clientAddress: string | undefined,
  ) {}

  /** Drops a client that does not read (once). */
  dropSlow(rootField: string, maxPending: number, logger: Logger): void {
    if (this.dropped) return;
    this.dropped = true;
    subscriptionMetrics.droppedSlowClients.inc();
    logger.warn({ rootField, maxPending, subscriptions: this.streams.size, transport: this.transport.kind }, 'dropping a slow subscription client');
    this.transport.drop('slow', `Slow consumer: more than ${maxPending} undelivered events; dropped`);
  }
}

export interface SubscriptionCoreOptions {
  /** Signs the caller's identity for the subgraphs (the same secret as for HTTP). */
  readonly internalAuthSecret: string;
  /** Lifetime of the signature of each upstream handshake. Default 10 s. */
  readonly internalRequestTtlSeconds?: number;
  /**
   * Root fields whose events do not depend on the caller: every client shares one anonymous upstream
   * subscription per operation and variables. Default {@link DEFAULT_PUBLIC_ROOT_FIELDS}.
   */
  readonly publicRootFields?: readonly string[];
  /** Events held for one client subscription that the client does not read; one more drops the client. Default 64. */
  readonly maxPendingEvents?: number;
  /** Subscriptions one connection may hold at once. Default 100. */
  readonly maxSubscriptionsPerConnection?: number;
  /** Events of one group executed concurrently (delivered in order). Default 8. */
  readonly maxConcurrentEvents?: number;
  /**
   * How often each session's access token is verified again. A revoked session ends its
   * subscriptions at once through the deny list (`AttachContext.revocations`); this is the
   * backstop (a gateway started without one). Default 30 s.
   */
  readonly reverifyIntervalMs?: number;
  /** On shutdown, time given to clients to take their last events and `complete`s. Default 2 s. */
  readonly shutdownGraceMs?: number;
  /** Upstream (gateway -> subgraph) keep-alive and reconnection backoff. */
  readonly upstream?: Omit<UpstreamOptions, 'internalAuthSecret' | 'logger'>;
  /** Query limits; default: the gateway's (the same as for queries over HTTP). */
  readonly limits?: Partial<QueryLimits>;
  /** Checks on every connection and subscribe request, whatever the transport (see {@link SubscriptionGuard}). Default none. */
  readonly guards?: readonly SubscriptionGuard[];
}

/** What the gateway gives the subscription server (with the edge checks: rate budgets, safelist). */
export interface AttachContext extends EdgeChecks {
  readonly logger: Logger;
  readonly verifier: AccessTokenVerifier;
  /** The client's address of an upgrade request, as the gateway computes it for HTTP (trust-proxy included). Default: the socket peer. */
  readonly clientAddress?: (req: http.IncomingMessage) => string | undefined;
  /** The gateway's query limits (default {@link DEFAULT_QUERY_LIMITS}). */
  readonly limits?: QueryLimits;
  /** The gateway's deny list: a revoked session's subscriptions end the moment it lands there, on every transport. */
  readonly revocations?: SessionDenyList;
}

/** A subscribe request as every transport receives it. */
export interface SubscribePayload {
  readonly query: string;
  readonly variables?: Record<string, unknown> | null;
  readonly operationName?: string | null;
  /** The request's extensions: `resumeFrom` (a cursor of an earlier event) resumes the subscription after it. */
  readonly extensions?: Record<string, unknown> | null;
}

/** A connection about to open, as guards see it. */
export interface ConnectionCandidate {
  readonly identity: Identity | null;
  /** The client's address as the gateway sees it (the socket peer, or per `trustProxy`). */
  readonly clientAddress: string | undefined;
  readonly transport: TransportKind;
}

/**
 * A check every transport runs through the core (a rate budget, a quota): answer a GraphQL error
 * (a registry code, e.g. RATE_LIMITED with `retryAfterSeconds`) to refuse, nothing to let through.
 * Guards are where such rules go, so that graphql-ws, SSE and multipart all apply them.
 */
export interface SubscriptionGuard {
  /** A new connection (WebSocket, SSE stream or reservation, multipart request). */
  connect?(candidate: ConnectionCandidate): Promise<GraphQLErrorType | undefined> | GraphQLErrorType | undefined;
  /**
   * A subscribe request of an open session, after the document was checked: `operation` is the node
   * the limits validated (its cost estimate is known, see operationCost; a re-parsed one's is not).
   */
  subscribe?(session: ClientSession, payload: SubscribePayload, operation: OperationDefinitionNode): Promise<GraphQLErrorType | undefined> | GraphQLErrorType | undefined;
}

/**
 * The HTTP answer of a connection or subscribe request refused before streaming (the SSE and
 * multipart transports): the registry's status of the first error's code (400 for a code without
 * one), `Retry-After` when the error says when to retry, and the errors as GraphQL JSON. A rate
 * limit refusal also carries the contract's `RateLimit-*` headers, as over plain HTTP: the budget's
 * size (`extensions.limit`), nothing remaining, and the seconds until it is full again.
 */
export function httpRefusal(errors: readonly GraphQLFormattedError[]): { readonly status: number; readonly headers: Record<string, string>; readonly body: string } {
  const first = errors[0];
  const code = first?.extensions?.['code'];
  // FORBIDDEN has no status of its own in the registry (a field error answers 200); refusing a whole connection, it is 403.
  const status = code === 'FORBIDDEN' ? 403 : isPublicErrorCode(code) ? ((PUBLIC_ERRORS[code] as PublicErrorSpec).httpStatus ?? 400) : 500;
  const retryAfter = first?.extensions?.['retryAfterSeconds'];
  const limit = first?.extensions?.['limit'];
  const budget: Record<string, string> = code === 'RATE_LIMITED' && typeof limit === 'number' && typeof retryAfter === 'number' ? { 'ratelimit-limit': String(limit), 'ratelimit-remaining': '0', 'ratelimit-reset': String(retryAfter) } : {};
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...(typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {}), ...budget },
    body: JSON.stringify({ errors }),
  };
}

interface SubscribeContext {
  readonly session: ClientSession;
  readonly plan: SubscriptionPlan;
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly subgraphUrl: string;
  /** The cursor to resume after (checked by the owning subgraph, which replays its log). */
  readonly resumeFrom: string | undefined;
}

const SUBSCRIBE_CONTEXT = Symbol('subscribe context');

/** A parsed and validated document, or why it is not one. */
type CheckedDocument = { readonly document: DocumentNode } | { readonly errors: readonly GraphQLErrorType[] };
/** Documents kept parsed and validated per schema (oldest evicted first). */
const DOCUMENT_CACHE_SIZE = 500;
/** Longer documents are not cached, which bounds the cache's memory whatever clients send (typical subscriptions are < 1 KiB). */
const CACHED_DOCUMENT_MAX_LENGTH = 4_096;

export class SubscriptionCore {
  readonly maxPending: number;
  private readonly maxPerConnection: number;
  private readonly limits: QueryLimits;
  private readonly rules: ValidationRule[];
  /** The gateway's formatting of errors for clients (masking, no stack traces), as on HTTP. */
  private readonly forClient: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  private readonly formatted = new WeakMap<ExecutionResult, FormattedExecutionResult>();
  private readonly connections: UpstreamConnections;
  private readonly hub: SubscriptionHub;
  private readonly sessions = new Set<ClientSession>();
  /** Signed-in sessions by the login session (`Identity.sessionId`) they were opened with. */
  private readonly byLoginSession = new Map<string, Set<ClientSession>>();
  private readonly stopFollowing: () => void;
  // Thousands of clients send the same few documents: parse and validate each once per schema and
  // share the AST (it is never mutated), which saves both CPU and the memory of one AST per client.
  private readonly checkedDocuments = new WeakMap<GraphQLSchema, Map<string, CheckedDocument>>();
  private readonly reverify: NodeJS.Timeout;
  private stoppingNow = false;
  private disposing: Promise<void> | undefined;

  constructor(
    private readonly gateway: ApolloGateway,
    private readonly attach: AttachContext,
    private readonly options: SubscriptionCoreOptions,
  ) {
    const { logger } = attach;
    this.maxPending = options.maxPendingEvents ?? 64;
    this.maxPerConnection = options.maxSubscriptionsPerConnection ?? 100;
    this.limits = { ...DEFAULT_QUERY_LIMITS, ...attach.limits, ...options.limits };
    this.rules = [...specifiedRules, ...queryLimitRules(this.limits).rules];
    this.forClient = formatForClient(this.limits, logger);
    this.connections = new UpstreamConnections({
      internalAuthSecret: options.internalAuthSecret,
      logger,
      ...(options.internalRequestTtlSeconds ? { internalRequestTtlSeconds: options.internalRequestTtlSeconds } : {}),
      ...options.upstream,
    });
    this.hub = new SubscriptionHub(this.connections, { logger, publicRootFields: new Set(options.publicRootFields ?? DEFAULT_PUBLIC_ROOT_FIELDS), ...(options.maxConcurrentEvents ? { maxConcurrentEvents: options.maxConcurrentEvents } : {}) });
    // One timer for every session: verifying an HS256 token and the deny list costs microseconds.
    this.reverify = setInterval(() => this.reverifySessions(), options.reverifyIntervalMs ?? 30_000);
    this.reverify.unref();
    this.stopFollowing = attach.revocations?.onRevoked((ids) => this.endLoginSessions(ids)) ?? (() => undefined);
  }

  /** True once the gateway is shutting down: transports refuse new connections. */
  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** Client connections open now, over every transport. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Upstream subscriptions open now. */
  get upstreamCount(): number {
    return this.hub.upstreamCount;
  }

  /**
   * Opens a connection of `transport`: the caller from its `authorization` value ("Bearer <token>";
   * absent: anonymous), then every guard's `connect`. Answers the session, or the error that
   * refuses the connection: UNAUTHENTICATED (expired token), FORBIDDEN (malformed, invalid or
   * revoked token), SERVICE_UNAVAILABLE (shutting down) or a guard's error (e.g. RATE_LIMITED).
   * Each transport frames a refusal in one place (an HTTP status by {@link refusalStatus}, a close code).
   */
  async connect(transport: SessionTransport, request: { readonly authorization: unknown; readonly clientAddress: string | undefined }): Promise<{ readonly session: ClientSession } | { readonly refusal: GraphQLErrorType }> {
    if (this.stoppingNow) return { refusal: serviceUnavailable('The server is shutting down; subscribe again in a moment.') };
    const caller = await this.authenticate(request.authorization);
    if ('refusal' in caller) return caller;
    const candidate = { ...caller, clientAddress: request.clientAddress, transport: transport.kind };
    for (const guard of this.options.guards ?? []) {
      const refusal = await guard.connect?.(candidate);
      if (refusal) return { refusal };
    }
    const session = new ClientSession(transport, caller.identity, caller.token, request.clientAddress);
    this.sessions.add(session);
    if (session.identity) {
      const same = this.byLoginSession.get(session.identity.sessionId) ?? new Set<ClientSession>();
      same.add(session);
      this.byLoginSession.set(session.identity.sessionId, same);
    }
    subscriptionMetrics.connections.inc();
    return { session };
  }

  private async authenticate(authorization: unknown): Promise<{ readonly identity: Identity | null; readonly token: string | null } | { readonly refusal: GraphQLErrorType }> {
    if (authorization === undefined || authorization === null || authorization === '') return { identity: null, token: null };
    if (typeof authorization !== 'string') return { refusal: forbidden('Forbidden: authorization must be a string "Bearer <token>"') };
    let token: string | null;
    try {
      token = bearerToken(authorization);
    } catch {
      return { refusal: forbidden('Forbidden: authorization must be "Bearer <token>"') };
    }
    if (!token) return { identity: null, token: null };
    try {
      return { identity: await this.attach.verifier.verify(token), token };
    } catch {
      if (isExpired(token)) return { refusal: unauthenticated('Unauthorized: your session has expired') };
      return { refusal: forbidden('Forbidden: invalid or revoked access token') };
    }
  }

  /** Unregisters a connection that closed, and ends its streams (and so their upstreams). */
  close(session: ClientSession): void {
    if (!this.sessions.delete(session)) return;
    const loginSession = session.identity?.sessionId;
    const same = loginSession === undefined ? undefined : this.byLoginSession.get(loginSession);
    if (same?.delete(session) && same.size === 0) this.byLoginSession.delete(loginSession!);
    subscriptionMetrics.connections.dec();
    for (const stream of session.streams) void stream.return();
  }

  /**
   * Checks a subscribe request of `session`: shutdown, revoked or expired session, the per-connection
   * bound, parse, validation and limits, operation, variables, plan. Answers the execution arguments
   * for {@link start}, or the errors to send instead (already coded).
   */
  async prepare(session: ClientSession, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLErrorType[]> {
    const { logger } = this.attach;
    if (this.stoppingNow) return [serviceUnavailable('The server is shutting down; subscribe again in a moment.')];
    if (this.isRevoked(session)) return [sessionEnded()];
    if (session.identity && session.identity.exp <= Date.now() / 1000) return [unauthenticated('Your session has expired; reconnect with a fresh access token.')];
    if (session.streams.size >= this.maxPerConnection) return [badRequest(`At most ${this.maxPerConnection} subscriptions per connection.`)];
    if (typeof payload.query !== 'string' || payload.query === '') return [badRequest('A subscription needs a non-empty "query".')];
    const schema = currentSchema(this.gateway);
    const checked = this.checkDocument(schema, payload.query);
    if ('errors' in checked) return checked.errors;
    const { document } = checked;
    const operationName = payload.operationName ?? undefined;
    const operation = getOperationAST(document, operationName);
    if (!operation) return [publicError('OPERATION_RESOLUTION_FAILURE', 'Unable to identify the operation (give an operationName).')];
    if (operation.operation !== 'subscription') return [badRequest(`This endpoint serves subscriptions only over ${session.transport.kind === 'ws' ? 'WebSocket' : 'this transport'}; send queries and mutations with POST /graphql.`)];
    const variables = (payload.variables ?? {}) as Record<string, unknown>;
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) return coerced.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { code: 'BAD_USER_INPUT' } }));
    let plan: SubscriptionPlan;
    try {
      plan = planSubscription(this.gateway, document, operationName, `${payload.query}\u0000${operationName ?? ''}`);
    } catch (error) {
      logger.error({ err: error }, 'could not plan a subscription');
      return [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')];
    }
    const subgraphUrl = plan.internals.serviceMap[plan.subgraph]?.dataSource.url;
    if (!subgraphUrl) {
      logger.error({ subgraph: plan.subgraph }, 'no URL for the subgraph owning a subscription');
      return [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')];
    }
    for (const guard of this.options.guards ?? []) {
      const refusal = await guard.subscribe?.(session, payload, operation);
      if (refusal) return [refusal];
    }
    const resumeFrom = payload.extensions?.[RESUME_FROM];
    if (resumeFrom !== undefined && resumeFrom !== null && (typeof resumeFrom !== 'string' || resumeFrom === '' || resumeFrom.length > MAX_CURSOR_LENGTH)) {
      return [badUserInput(`extensions.${RESUME_FROM}`, 'A resume cursor is the non-empty string an event carried as extensions.cursor.')];
    }
    const context: SubscribeContext = { session, plan, query: payload.query, variables, subgraphUrl, resumeFrom: typeof resumeFrom === 'string' ? resumeFrom : undefined };
    const args: ExecutionArgs = { schema, document, variableValues: variables, contextValue: { [SUBSCRIBE_CONTEXT]: context } };
    if (operationName) args.operationName = operationName;
    return args;
  }

  /** Whether `query` (with `operationName`) is a subscription; undefined when it does not even parse (let {@link prepare} say why). */
  isSubscription(query: unknown, operationName: unknown): boolean | undefined {
    if (typeof query !== 'string') return undefined;
    const checked = this.checkDocument(currentSchema(this.gateway), query);
    if ('errors' in checked) return /^\s*subscription\b/.test(query) ? true : undefined;
    return getOperationAST(checked.document, typeof operationName === 'string' ? operationName : undefined)?.operation === 'subscription';
  }

  /** Starts a subscription {@link prepare} accepted: the stream of results to send, in order, bounded. */
  start(args: ExecutionArgs): ClientStream {
    const { logger } = this.attach;
    const context = (args.contextValue as { [SUBSCRIBE_CONTEXT]: SubscribeContext })[SUBSCRIBE_CONTEXT];
    const { session, plan } = context;
    let expiry: NodeJS.Timeout | undefined;
    const stream = new ClientStream({
      rootField: plan.rootField,
      maxPending: this.maxPending,
      onOverflow: (s) => session.dropSlow(s.rootField, this.maxPending, logger),
      onClose: (s) => {
        clearTimeout(expiry);
        session.streams.delete(s);
      },
    });
    session.streams.add(stream);
    const identity = session.identity;
    if (identity) {
      // Ends the subscription when the token does; setTimeout caps at ~24 days, tokens live minutes.
      const ms = Math.min(2 ** 31 - 1, Math.max(0, identity.exp * 1000 - Date.now()));
      expiry = setTimeout(() => {
        stream.finish({ errors: [unauthenticated('Your session has expired; subscribe again with a fresh access token.')] });
      }, ms);
      expiry.unref();
    }
    // Revoked between prepare and now: it gets its end and opens nothing upstream.
    if (this.isRevoked(session)) {
      stream.cut({ errors: [sessionEnded()] });
      return stream;
    }
    try {
      this.hub.attach({ plan, query: context.query, variables: context.variables, identity, stream, subgraphUrl: context.subgraphUrl, ...(context.resumeFrom ? { resumeFrom: context.resumeFrom } : {}) });
    } catch (error) {
      logger.error({ err: error }, 'could not open a subscription upstream');
      stream.finish({ errors: [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')] });
    }
    return stream;
  }

  /**
   * A result as a client sees it: non-public errors masked, no stack traces, no result extensions
   * but the event's `cursor`. Made once per result object: every client of a delivery group gets
   * the same one (hub.ts), so the same formatted object, serialised once (the cursor belongs to
   * the group's upstream subscription, so it is the same for all of them).
   */
  format(result: ExecutionResult): FormattedExecutionResult {
    let formatted = this.formatted.get(result);
    if (!formatted) {
      const cursor = result.extensions?.['cursor'];
      formatted = {
        ...(result.data !== undefined ? { data: result.data } : {}),
        ...(result.errors?.length ? { errors: this.formatErrors(result.errors) } : {}),
        ...(typeof cursor === 'string' ? { extensions: { cursor } } : {}),
      };
      this.formatted.set(result, formatted);
    }
    return formatted;
  }

  /** Errors as a client sees them (the registry's codes, the limit's code, the rest masked). */
  formatErrors(errors: readonly (GraphQLErrorType | { message: string })[]): GraphQLFormattedError[] {
    return errors.map((e) => this.forClient(e instanceof GraphQLError ? e.toJSON() : { message: e.message }, e));
  }

  /** Completes every subscription, then drops every connection, then closes the upstreams. */
  dispose(): Promise<void> {
    return (this.disposing ??= (async () => {
      this.stoppingNow = true;
      clearInterval(this.reverify);
      this.stopFollowing();
      const grace = this.options.shutdownGraceMs ?? 2_000;
      // 1. Complete every subscription: each client gets its queued events, then `complete`.
      for (const session of this.sessions) for (const stream of session.streams) stream.finish();
      const deadline = Date.now() + grace;
      while (Date.now() < deadline && [...this.sessions].some((s) => s.streams.size > 0)) await new Promise((resolve) => setTimeout(resolve, 10));
      // 2. Close the connections; a client that cannot even take the close is cut.
      for (const session of this.sessions) session.transport.drop('shutdown', 'Server shutting down');
      const closeDeadline = Date.now() + 1_000;
      while (this.sessions.size > 0 && Date.now() < closeDeadline) await new Promise((resolve) => setTimeout(resolve, 10));
      for (const session of this.sessions) session.transport.drop('terminate', 'Server shutting down');
      // 3. Upstream subscriptions and connections.
      this.hub.closeAll();
      await this.connections.dispose();
    })());
  }

  /**
   * Ends every subscription of the sessions `match` picks (a revoked login session, a user whose
   * roles changed), on every transport: undelivered events dropped, a last result with
   * UNAUTHENTICATED "Your session has ended", then `complete`; those sessions take no new
   * subscriptions. Answers how many sessions it ended.
   */
  revoke(match: (session: ClientSession) => boolean): number {
    let ended = 0;
    for (const session of this.sessions) if (match(session) && this.end(session)) ended++;
    return ended;
  }

  /** {@link revoke} for the sessions opened with these login sessions (the deny list's pushed revocations), found by key. */
  private endLoginSessions(loginSessions: readonly string[]): void {
    for (const id of loginSessions) for (const session of [...(this.byLoginSession.get(id) ?? [])]) this.end(session);
  }

  private end(session: ClientSession): boolean {
    if (session.revoked) return false;
    session.revoked = true;
    this.attach.logger.info({ subscriptions: session.streams.size, transport: session.transport.kind }, 'ending the subscriptions of a revoked session');
    for (const stream of [...session.streams]) stream.cut({ errors: [sessionEnded()] });
    return true;
  }

  /** Whether `session` was revoked, or its login session is on the deny list now (marking it revoked). */
  private isRevoked(session: ClientSession): boolean {
    if (!session.revoked && session.identity && this.attach.revocations?.isRevoked(session.identity.sessionId)) session.revoked = true;
    return session.revoked;
  }

  private reverifySessions(): void {
    const { verifier } = this.attach;
    for (const session of this.sessions) {
      if (!session.token || session.revoked) continue;
      const { token } = session;
      verifier.verify(token).then(
        () => undefined,
        () => {
          // Expiry has its own timer (a precise error); this is for revoked sessions.
          if (isExpired(token) || session.revoked) return;
          this.revoke((s) => s === session);
        },
      );
    }
  }

  private checkDocument(schema: GraphQLSchema, query: string): CheckedDocument {
    let cache = this.checkedDocuments.get(schema);
    if (!cache) {
      cache = new Map();
      this.checkedDocuments.set(schema, cache);
    }
    const hit = cache.get(query);
    if (hit) return hit;
    let checked: CheckedDocument;
    try {
      const document = parse(query, { maxTokens: this.limits.maxTokens });
      const errors = validate(schema, document, this.rules);
      // Our limit rules report their own codes (MAX_DEPTH_LIMIT, ...); the rest is a validation failure.
      checked = errors.length
        ? { errors: errors.map((e) => (typeof e.extensions['code'] === 'string' ? e : new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } }))) }
        : { document };
    } catch (error) {
      checked = exceedsTokenLimit(query, this.limits.maxTokens)
        ? { errors: [publicError('MAX_TOKENS_LIMIT', `The document has more than ${this.limits.maxTokens} tokens (the limit).`, { extensions: { limit: this.limits.maxTokens } })] }
        : { errors: [publicError('GRAPHQL_PARSE_FAILED', error instanceof Error ? error.message : 'Syntax error')] };
    }
    if (query.length > CACHED_DOCUMENT_MAX_LENGTH) return checked;
    cache.set(query, checked);
    if (cache.size > DOCUMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    return checked;
  }
}

function currentSchema(gateway: ApolloGateway): GraphQLSchema {
  if (!gateway.schema) throw new Error('The gateway has not loaded a supergraph yet.');
  return gateway.schema;
}

function sessionEnded(): GraphQLError {
  return unauthenticated('Your session has ended (signed out or revoked); sign in again and resubscribe.');
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
