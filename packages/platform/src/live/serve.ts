/**
 * Serves a subgraph's `Subscription` fields over graphql-ws (protocol `graphql-transport-ws`) on the
 * subgraph's own HTTP server and path, for the gateway to subscribe to.
 *
 * - Authentication: only the gateway may connect. It signs the handshake exactly as an HTTP request
 *   (internal-request.ts: `GET <path>`, an empty body, this service as audience, the caller's
 *   identity if any) and sends those headers as the `connection_init` payload, signed afresh on
 *   every (re)connection. A missing, forged or expired signature, an expired identity or a revoked
 *   session closes the socket with 4403 (Forbidden). Documents pass the same query limits as HTTP.
 * - One connection, many identities: the gateway multiplexes every caller's subscriptions on one
 *   connection per subgraph; each subscribe message carries its caller's identity signed for that
 *   subscription (`extensions.shopIdentity`, internal-request.ts `SUBSCRIPTION_IDENTITY_EXTENSION`),
 *   which is checked like a request (forged, for another subgraph or operation, expired, revoked
 *   session) and becomes that subscription's context. A refused identity refuses that subscription
 *   only (an `error` message, UNAUTHENTICATED); the connection and its other subscriptions go on.
 *   A subscribe message without it runs as the connection's identity (anonymous on the gateway's
 *   shared connection).
 * - Events: the service's {@link LivePubSub} (built in its `setup`), fed by the live handlers its
 *   `live` hook returns, through a live listener (`deps.listen`: every replica sees every event, so
 *   each one can serve its own subscribers), one ordered queue per subscriber.
 * - Execution: like graphql-js `subscribe`, except that each event is executed with a FRESH context
 *   (DataLoaders are per request; one cached across events would serve stale rows).
 * - No result is sent twice in a row to one subscription: a result equal (data and errors) to the
 *   previous one sent on it is left out. Two events can resolve to the same answer (orders'
 *   OrderCancelled then OrderRefunded both announce CANCELLED, and the order read at delivery may
 *   already show the refund: the issue-15 probe saw one CANCELLED twice), and an at-least-once
 *   bus may deliver an event twice; the client already has that answer. Only the previous one:
 *   a value that comes back later (stock 5, 4, 5) is news.
 * - Each result carries `extensions.eventTime` (when the domain event happened, from the published
 *   {@link LiveEvent}), so the gateway can measure delivery latency end to end.
 * - Shutdown closes sockets with 1001 (Going Away) and never completes subscriptions: the gateway
 *   reconnects and resubscribes to another (or the restarted) replica.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLSchema, ValidationRule } from 'graphql';
import { createSourceEventStream, execute, getOperationAST, GraphQLError, parse, specifiedRules, validate } from 'graphql';
import { SpanKind } from '@opentelemetry/api';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { badRequest, maskError, publicError, serviceUnavailable, unauthenticated } from '../errors';
import { DEFAULT_QUERY_LIMITS, exceedsTokenLimit } from '../http/query-limits';
import type { LiveHandler } from '../events/consumers';
import type { Identity } from '../identity';
import type { VerifiedRequest } from '../internal-request';
import { bodyDigest, SUBSCRIBE_METHOD, SUBSCRIPTION_IDENTITY_EXTENSION, subscriptionBody } from '../internal-request';
import { counter, gauge } from '../metrics';
import type { RequestContext, ServiceDeps } from '../service/definition';
import { withRequestId } from '../request-id';
import { injectTraceContext, SERVICE_ATTRIBUTE, inSpan } from '../tracing';
import { isLiveEvent } from './pubsub';
import { decodeCursor, LiveLog, RESUME_FROM, setLiveResume } from './resume';
import { mapStream, SKIP } from './queue';

export interface SubscriptionServingOptions {
  readonly deps: ServiceDeps;
  /**
   * Verifies the gateway's signature of the handshake (`connection_init` payload as headers, the
   * upgrade request's path; `request` absent: `GET` with an empty body) or of one subscription's
   * identity (`request`: {@link SUBSCRIBE_METHOD} and the digest of its {@link subscriptionBody}),
   * and answers the caller; throws when the gateway did not sign it.
   */
  readonly verify: (headers: Record<string, string>, path: string, request?: { readonly method: string; readonly digest: string }) => VerifiedRequest;
  /** More validation rules (the query limits). Default none. */
  readonly validationRules?: readonly ValidationRule[];
  /** Most tokens in a subscription document. Default the {@link DEFAULT_QUERY_LIMITS} value (beyond it: MAX_TOKENS_LIMIT). */
  readonly maxTokens?: number;
  /**
   * Builds the context of the subscribe call and of EACH event (the service's own `context`, so
   * DataLoaders are fresh per event).
   */
  readonly context: (base: RequestContext) => object;
  /** Live handlers that feed the service's pub/sub. */
  readonly handlers: ReadonlyArray<LiveHandler<any>>;
  /** WebSocket path. Default '/graphql' (the same path as GraphQL over HTTP). */
  readonly path?: string;
  /** Server ping interval; a peer that misses a pong for that long is dropped. Default 12 s. */
  readonly keepAliveMs?: number;
}

/** A protocol served beside GraphQL over HTTP; disposed on shutdown. */
export interface AttachedProtocol {
  dispose(): Promise<void>;
}

const CONNECTION_IDENTITY = new WeakMap<object, Identity | null>();
/** The identity each subscribe message was verified for (keyed by its payload, which graphql-ws hands to every hook). */
const SUBSCRIPTION_IDENTITY = new WeakMap<object, Identity | null>();
const EVENT_CONTEXT = new WeakMap<object, (event: object | undefined) => Promise<object>>();

/**
 * Serves the schema's subscriptions over graphql-ws on the service's HTTP server (see the module
 * comment); the platform calls it for every service with a `live` hook.
 */
export function serveSubscriptions(server: http.Server, schema: GraphQLSchema, options: SubscriptionServingOptions): AttachedProtocol {
  const { deps } = options;
  const { logger, name: service } = deps;
  const active = gauge({ name: 'subgraph_subscriptions_active', help: 'GraphQL subscriptions open on a subgraph (from the gateway), by service and root field.', labelNames: ['service', 'field'] });
  const connections = gauge({ name: 'subgraph_subscription_connections_active', help: 'graphql-ws connections open on a subgraph (from the gateways), by service.', labelNames: ['service'] });
  const counted = new WeakSet<object>();
  const events = counter({ name: 'subgraph_subscription_events_total', help: 'Subscription events sent by a subgraph, by service and root field.', labelNames: ['service', 'field'] });
  const { handlers } = options;
  // Started at once; a subscribe waits for it, so no subscriber believes it listens while it does not.
  // The log as this replica's listener follows it: the positions behind every event's cursor, and the replays.
  const liveLog = deps.bus.log && handlers.length ? new LiveLog(deps.bus.log, handlers) : undefined;
  const listening = handlers.length
    ? deps.listen(handlers, liveLog ? { onHandled: (message) => liveLog.handled(message) } : {}).then(() =>
        // Without the log's end, fresh subscriptions' cursors leave out the partitions the listener has not seen a message on yet (a resume reads those from their start): worth a warning, not a replica without subscriptions.
        liveLog?.seed().catch((err: unknown) => logger.warn({ err }, 'could not read the event log bounds for subscription cursors')),
      )
    : Promise.resolve();
  listening.catch((err: unknown) => logger.error({ err }, 'could not start the live listener of subscriptions'));
  const buildContext = async (identity: Identity | null, liveEvent?: object): Promise<object> => options.context({ identity, deps, ...(liveEvent ? { liveEvent } : {}) });

  const rules = [...specifiedRules, ...(options.validationRules ?? [])];
  const wss = new WebSocketServer({ server, path: options.path ?? '/graphql', maxPayload: 1024 * 1024 });
  const graphqlWs = useServer(
    {
      schema,
      validate: (s, document) => validate(s, document, rules),
      onConnect: (ctx) => {
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(ctx.connectionParams ?? {})) if (typeof value === 'string') headers[key.toLowerCase()] = value;
        try {
          CONNECTION_IDENTITY.set(ctx, options.verify(headers, ctx.extra.request.url ?? '/').identity);
          counted.add(ctx);
          connections.inc({ service });
          return true;
        } catch (error) {
          const reason = `Forbidden: ${error instanceof Error ? error.message : 'invalid identity'}`;
          ctx.extra.socket.close(CloseCode.Forbidden, reason.slice(0, 120));
          return false;
        }
      },
      onClose: (ctx) => {
        if (counted.delete(ctx)) connections.dec({ service });
      },
      onSubscribe: (ctx, _id, payload) => {
        let identity = CONNECTION_IDENTITY.get(ctx) ?? null;
        const signed = payload.extensions?.[SUBSCRIPTION_IDENTITY_EXTENSION];
        if (signed !== undefined) {
          // This subscription's own caller, signed for this operation and these variables.
          if (typeof signed !== 'object' || signed === null) return [unauthenticated('Malformed subscription identity.')];
          const headers: Record<string, string> = {};
          for (const [key, value] of Object.entries(signed)) if (typeof value === 'string') headers[key.toLowerCase()] = value;
          try {
            const digest = bodyDigest(subscriptionBody(payload.query, payload.variables));
            identity = options.verify(headers, ctx.extra.request.url ?? '/', { method: SUBSCRIBE_METHOD, digest }).identity;
          } catch (error) {
            return [unauthenticated(error instanceof Error ? error.message : 'Invalid subscription identity.')];
          }
        }
        SUBSCRIPTION_IDENTITY.set(payload, identity);
        // The connection outlived the identity it was opened with: the gateway must reconnect.
        if (identity && identity.exp <= Date.now() / 1000) {
          return [unauthenticated('Your session has expired.')];
        }
        if (!payload.query) return [badRequest('A subscribe message needs a query.')];
        const resumeFrom = payload.extensions?.[RESUME_FROM];
        if (resumeFrom !== undefined && resumeFrom !== null) {
          const from = decodeCursor(resumeFrom);
          if (from instanceof Error) return [from];
          if (!liveLog) return [badRequest('This service cannot resume subscriptions (its event bus has no readable log).')];
        }
        const maxTokens = options.maxTokens ?? DEFAULT_QUERY_LIMITS.maxTokens;
        try {
          parse(payload.query, { maxTokens });
        } catch (error) {
          if (exceedsTokenLimit(payload.query, maxTokens)) return [publicError('MAX_TOKENS_LIMIT', `The document has more than ${maxTokens} tokens (the limit).`, { extensions: { limit: maxTokens } })];
          return [publicError('GRAPHQL_PARSE_FAILED', error instanceof Error ? error.message : 'Syntax error')];
        }
        return undefined;
      },
      context: async (ctx, _id, payload) => {
        const identity = SUBSCRIPTION_IDENTITY.has(payload) ? (SUBSCRIPTION_IDENTITY.get(payload) ?? null) : (CONNECTION_IDENTITY.get(ctx) ?? null);
        const contextValue = await buildContext(identity);
        if (liveLog) {
          const resumeFrom = payload.extensions?.[RESUME_FROM];
          const from = resumeFrom === undefined || resumeFrom === null ? undefined : decodeCursor(resumeFrom);
          setLiveResume(contextValue, { log: liveLog, from: from instanceof Error ? undefined : from });
        }
        EVENT_CONTEXT.set(contextValue, (event) => buildContext(identity, event));
        return contextValue as Record<string, unknown>;
      },
      subscribe: async (args: ExecutionArgs) => {
        try {
          await listening;
        } catch {
          // Logged once above; without its listener this replica would serve silent subscriptions.
          return { errors: [serviceUnavailable('Subscriptions are unavailable on this replica.')] };
        }
        const field = rootFieldOf(args);
        const source = await createSourceEventStream(args);
        if (!isAsyncIterable(source)) return source;
        const fresh = EVENT_CONTEXT.get(args.contextValue as object) ?? (async (_event: object | undefined) => args.contextValue as object);
        active.inc({ service, field });
        let previous: string | undefined;
        return mapStream(
          source,
          async (payload) => {
            // A span per event in the trace it was published in (the domain event's); its context
            // goes to the gateway as `extensions.traceparent`, so the delivery continues the trace.
            const live = isLiveEvent(payload) ? payload : undefined;
            // The last value of a subscription that cannot go on (a cursor past retention): its error, then complete.
            if (live?.failure) return { errors: [live.failure instanceof GraphQLError && typeof live.failure.extensions['code'] === 'string' ? live.failure : serviceUnavailable('The event log could not be read to resume this subscription; try again.')] };
            const inRequest = <T>(fn: () => T): T => (live?.requestId === undefined ? fn() : withRequestId(live.requestId, fn));
            return inRequest(() => inSpan(`${field} subscription event`, { kind: SpanKind.PRODUCER, attributes: { [SERVICE_ATTRIBUTE]: service, 'graphql.operation.type': 'subscription', 'shop.subscription.field': field }, ...(live?.trace ? { parent: live.trace } : {}) }, async (span) => {
              const result: ExecutionResult = await execute({ ...args, rootValue: payload, contextValue: await fresh(live?.payload as object | undefined) });
              const digest = createHash('sha256')
                .update(JSON.stringify([result.data ?? null, result.errors?.map((e) => e.message) ?? []]))
                .digest('base64url');
              if (digest === previous) {
                span.setAttribute('shop.subscription.skipped', true);
                return SKIP;
              }
              previous = digest;
              events.inc({ service, field });
              const extensions: Record<string, unknown> = { ...result.extensions };
              if (live?.eventTime !== undefined) extensions['eventTime'] = new Date(live.eventTime).toISOString();
              if (live?.cursor !== undefined) extensions['cursor'] = live.cursor;
              // traceparent (and x-request-id): the gateway continues both.
              const carrier = injectTraceContext({});
              if (Object.keys(carrier).length) extensions['traceContext'] = carrier;
              return Object.keys(extensions).length ? { ...result, extensions } : result;
            }));
          },
          () => active.dec({ service, field }),
        );
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors?.length ? { ...result, errors: result.errors.map((e) => maskError(e.toJSON(), e, logger)) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => maskError(e.toJSON(), e, logger)),
    },
    wss,
    options.keepAliveMs ?? 12_000,
  );
  return {
    dispose: async () => {
      // Closes every socket with 1001: the gateway resubscribes elsewhere or after the restart.
      await graphqlWs.dispose();
    },
  };
}


function rootFieldOf(args: ExecutionArgs): string {
  const operation = getOperationAST(args.document, args.operationName);
  const first = operation?.selectionSet.selections[0];
  return first?.kind === 'Field' ? first.name.value : 'unknown';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
