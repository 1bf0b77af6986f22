/**
 * Serves a subgraph's `Subscription` fields over graphql-ws (protocol `graphql-transport-ws`) on the
 * subgraph's own HTTP server and path, for the gateway to subscribe to.
 *
 * - Authentication: the gateway sends the caller's identity signed exactly as for HTTP (the
 *   `x-shop-identity` headers) as the `connection_init` payload; it is checked with `verifyIdentity`.
 *   A forged or expired identity closes the socket with 4403 (Forbidden); no payload is an anonymous
 *   connection.
 * - Events: a per-replica in-memory {@link PubSub} fed by live listeners (`deps.listen`: every replica
 *   sees every event, so each one can serve its own subscribers), one ordered queue per subscriber.
 * - Execution: like graphql-js `subscribe`, except that each event is executed with a FRESH context
 *   (DataLoaders are per request; one cached across events would serve stale rows).
 * - Each result carries `extensions.eventTime` (when the domain event happened), so the gateway can
 *   measure delivery latency end to end.
 * - Shutdown closes sockets with 1001 (Going Away) and never completes subscriptions: the gateway
 *   reconnects and resubscribes to another (or the restarted) replica.
 */
import type http from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLSchema } from 'graphql';
import { createSourceEventStream, execute, getOperationAST, GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { LiveHandler } from '../events/consumers';
import type { Identity } from '../identity';
import { verifyIdentity } from '../identity';
import { counter, gauge } from '../metrics';
import type { RequestContext, ServiceDeps } from './service';
import { maskError } from './service';

/** Options of {@link PubSub.subscribe}. */
export interface PubSubSubscribeOptions<T> {
  /** Keeps only the payloads it accepts. Default: every payload of the topic. */
  readonly filter?: (payload: T) => boolean;
  /**
   * Payloads held for a subscriber that has not taken them yet. Beyond it the subscription ends with
   * an error rather than growing without bound. Default 1000.
   */
  readonly maxBuffered?: number;
}

const eventTimes = new WeakMap<object, number>();

/** When the domain event behind a published payload happened (ms since the epoch), if known. */
export function eventTimeOf(payload: unknown): number | undefined {
  return typeof payload === 'object' && payload !== null ? eventTimes.get(payload) : undefined;
}

interface Subscriber {
  accept(payload: object): boolean;
  push(payload: object): void;
}

/**
 * A per-replica, in-memory publish/subscribe for GraphQL subscriptions. `publish` is synchronous and
 * every subscriber has its own FIFO queue, so payloads published in order are delivered in order.
 */
export class PubSub {
  private readonly topics = new Map<string, Set<Subscriber>>();

  /** Publishes `payload` (an object: it is what the subscription field's `resolve` receives). */
  publish(topic: string, payload: object, occurredAt?: string | Date): void {
    if (occurredAt !== undefined) {
      const t = new Date(occurredAt).getTime();
      if (Number.isFinite(t)) eventTimes.set(payload, t);
    }
    for (const subscriber of this.topics.get(topic) ?? []) {
      if (subscriber.accept(payload)) subscriber.push(payload);
    }
  }

  /** Subscribers currently on `topic` (all topics when omitted). */
  subscriberCount(topic?: string): number {
    if (topic !== undefined) return this.topics.get(topic)?.size ?? 0;
    let n = 0;
    for (const set of this.topics.values()) n += set.size;
    return n;
  }

  /** An async iterator of the topic's payloads from now on; `return()` unsubscribes. */
  subscribe<T extends object>(topic: string, options: PubSubSubscribeOptions<T> = {}): AsyncGenerator<T, undefined, unknown> {
    const maxBuffered = options.maxBuffered ?? 1000;
    const queue: T[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: Error | undefined;
    const subscribers = this.topics.get(topic) ?? new Set<Subscriber>();
    this.topics.set(topic, subscribers);
    const finish = (): void => {
      done = true;
      subscribers.delete(subscriber);
      if (subscribers.size === 0 && this.topics.get(topic) === subscribers) this.topics.delete(topic);
      wake?.();
    };
    const subscriber: Subscriber = {
      accept: (payload) => !options.filter || options.filter(payload as T),
      push: (payload) => {
        if (done) return;
        if (queue.length >= maxBuffered) {
          failure = new Error(`Subscription fell more than ${maxBuffered} events behind and was ended.`);
          finish();
          return;
        }
        queue.push(payload as T);
        wake?.();
      },
    };
    subscribers.add(subscriber);
    const iterator: AsyncGenerator<T, undefined, unknown> = {
      async next(): Promise<IteratorResult<T, undefined>> {
        for (;;) {
          const value = queue.shift();
          if (value !== undefined) return { done: false, value };
          if (failure) {
            const error = failure;
            failure = undefined;
            throw error;
          }
          if (done) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<T, undefined>> {
        queue.length = 0;
        finish();
        return { done: true, value: undefined };
      },
      async throw(error: unknown): Promise<IteratorResult<T, undefined>> {
        queue.length = 0;
        finish();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
      async [Symbol.asyncDispose]() {
        await iterator.return(undefined);
      },
    };
    return iterator;
  }
}

const pubSubs = new WeakMap<ServiceDeps, PubSub>();

/** The pub/sub of one running service instance (one per replica; two instances in one process never share one). */
export function pubSubOf(deps: ServiceDeps): PubSub {
  let pubsub = pubSubs.get(deps);
  if (!pubsub) {
    pubsub = new PubSub();
    pubSubs.set(deps, pubsub);
  }
  return pubsub;
}

export interface SubscriptionServingOptions<TContext extends RequestContext> {
  /**
   * Builds the context of the subscribe call and of EACH event (pass the service's own `context`
   * so DataLoaders are fresh per event). Default: the base context `{ identity, deps }`.
   */
  readonly context?: (base: RequestContext) => TContext | Promise<TContext>;
  /** Live handlers that feed this replica's pub/sub (see {@link pubSubOf}). Default: none. */
  readonly live?: (pubsub: PubSub, deps: ServiceDeps) => ReadonlyArray<LiveHandler<any>>;
  /** WebSocket path. Default '/graphql' (the same path as GraphQL over HTTP). */
  readonly path?: string;
  /** Server ping interval; a peer that misses a pong for that long is dropped. Default 12 s. */
  readonly keepAliveMs?: number;
}

/** What `ServiceDefinition.attach` returns. */
export interface AttachedProtocol {
  dispose(): Promise<void>;
}

const CONNECTION_IDENTITY = new WeakMap<object, Identity | null>();
const EVENT_CONTEXT = new WeakMap<object, () => Promise<object>>();

/**
 * `ServiceDefinition.attach` for subgraphs with subscriptions: serves the schema's subscriptions
 * over graphql-ws on the service's HTTP server (see the module comment).
 */
export function serveSubscriptions<TContext extends RequestContext>(
  options: SubscriptionServingOptions<TContext> = {},
): (server: http.Server, schema: GraphQLSchema, deps: ServiceDeps) => AttachedProtocol {
  return (server, schema, deps) => {
    const { logger, name: service } = deps;
    const active = gauge({ name: 'subgraph_subscriptions_active', help: 'GraphQL subscriptions open on a subgraph (from the gateway), by service and root field.', labelNames: ['service', 'field'] });
    const events = counter({ name: 'subgraph_subscription_events_total', help: 'Subscription events sent by a subgraph, by service and root field.', labelNames: ['service', 'field'] });
    const pubsub = pubSubOf(deps);
    const handlers = options.live?.(pubsub, deps) ?? [];
    // Started at once; a subscribe waits for it, so no subscriber believes it listens while it does not.
    const listening = handlers.length ? deps.listen(handlers) : Promise.resolve();
    listening.catch((err: unknown) => logger.error({ err }, 'could not start the live listener of subscriptions'));
    const buildContext = async (identity: Identity | null): Promise<object> => {
      const base: RequestContext = { identity, deps };
      return options.context ? await options.context(base) : base;
    };

    const wss = new WebSocketServer({ server, path: options.path ?? '/graphql', maxPayload: 1024 * 1024 });
    const graphqlWs = useServer(
      {
        schema,
        onConnect: (ctx) => {
          const headers: Record<string, string> = {};
          for (const [key, value] of Object.entries(ctx.connectionParams ?? {})) if (typeof value === 'string') headers[key.toLowerCase()] = value;
          try {
            CONNECTION_IDENTITY.set(ctx, verifyIdentity(headers, deps.settings.internalAuthSecret));
            return true;
          } catch (error) {
            const reason = `Forbidden: ${error instanceof Error ? error.message : 'invalid identity'}`;
            ctx.extra.socket.close(CloseCode.Forbidden, reason.slice(0, 120));
            return false;
          }
        },
        onSubscribe: (ctx, _id, payload) => {
          const identity = CONNECTION_IDENTITY.get(ctx) ?? null;
          // The connection outlived the identity it was opened with: the gateway must reconnect.
          if (identity && identity.exp <= Date.now() / 1000) {
            return [new GraphQLError('Your session has expired.', { extensions: { code: 'UNAUTHENTICATED' } })];
          }
          if (!payload.query) return [new GraphQLError('A subscribe message needs a query.', { extensions: { code: 'BAD_REQUEST' } })];
          return undefined;
        },
        context: async (ctx) => {
          const identity = CONNECTION_IDENTITY.get(ctx) ?? null;
          const contextValue = await buildContext(identity);
          EVENT_CONTEXT.set(contextValue, () => buildContext(identity));
          return contextValue as Record<string, unknown>;
        },
        subscribe: async (args: ExecutionArgs) => {
          try {
            await listening;
          } catch {
            // Logged once above; without its listener this replica would serve silent subscriptions.
            return { errors: [new GraphQLError('Subscriptions are unavailable on this replica.', { extensions: { code: 'SERVICE_UNAVAILABLE' } })] };
          }
          const field = rootFieldOf(args);
          const source = await createSourceEventStream(args);
          if (!isAsyncIterable(source)) return source;
          const fresh = EVENT_CONTEXT.get(args.contextValue as object) ?? (async () => args.contextValue as object);
          active.inc({ service, field });
          return mapEvents(
            source,
            async (payload) => {
              const result: ExecutionResult = await execute({ ...args, rootValue: payload, contextValue: await fresh() });
              events.inc({ service, field });
              const at = eventTimeOf(payload);
              return at === undefined ? result : { ...result, extensions: { ...result.extensions, eventTime: new Date(at).toISOString() } };
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

/** Maps a source stream one event at a time (so results keep the events' order); `return()` reaches the source. */
function mapEvents<T, R>(source: AsyncIterable<T>, map: (value: T) => Promise<R>, onEnd: () => void): AsyncGenerator<R, undefined, unknown> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const generator: AsyncGenerator<R, undefined, unknown> = {
    async next() {
      try {
        const step = await it.next();
        if (step.done) {
          end();
          return { done: true, value: undefined };
        }
        return { done: false, value: await map(step.value) };
      } catch (error) {
        end();
        throw error;
      }
    },
    async return() {
      end();
      await it.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      end();
      await it.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return generator;
    },
    async [Symbol.asyncDispose]() {
      await generator.return(undefined);
    },
  };
  return generator;
}
