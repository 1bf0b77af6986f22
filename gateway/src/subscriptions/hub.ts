/**
 * Fan-out of upstream subscriptions to client subscriptions.
 *
 *   SharedUpstream  one graphql-ws subscription on a subgraph, per (subgraph, primary operation,
 *                   its variables, identity unless the root field is public)
 *     DeliveryGroup one execution of the rest of the plan per event, per (client operation,
 *                   variables, caller) among the clients of that upstream
 *       ClientStream one per client subscription: its own bounded queue
 *
 * Events are executed concurrently (up to `maxConcurrentEvents` per group) but handed to clients
 * strictly in the order they came from the subgraph. Nothing here ever waits for a client.
 *
 * Identity-bound upstream subscriptions (one per caller identity) all travel on the subgraph's one
 * shared connection (upstream.ts), each with its own signed identity.
 *
 * Frames: a group hands the same result object to each of its clients, so what a transport makes
 * of it is made once per group and event: the client's formatted result (core.ts `format`), its
 * JSON text ({@link jsonOnce}), and for graphql-ws a `next` message whose payload is spliced in as
 * text ({@link SerialisedPayload}) rather than serialised again per client. Writes to one socket
 * within a tick go out as one batch ({@link BatchedWrites}).
 *
 * Revocation is the subscription core's (core.ts): it cuts every client stream of a revoked
 * session, whatever transport carries it.
 */
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { GraphQLError } from 'graphql';
import type { Context } from '@opentelemetry/api';
import { context, SpanKind, trace } from '@opentelemetry/api';
import type { Identity, Logger } from '@shop/platform';
import { extractTraceContext, inSpan, requestIdFrom, SERVICE_ATTRIBUTE, serviceUnavailable, tracer, withRequestId } from '@shop/platform';
import type { ClientStream } from './client-stream';
import type { SubscriptionPlan } from './federated-plan';
import { executeEvent, primaryVariables } from './federated-plan';
import { stableJson } from '../stable-json';
import { subscriptionMetrics } from './metrics';
import type { UpstreamConnections, UpstreamSubscription } from './upstream';

export interface HubOptions {
  readonly logger: Logger;
  /** Root fields whose events do not depend on the caller: one upstream subscription (anonymous) serves everyone. */
  readonly publicRootFields: ReadonlySet<string>;
  /** Events of one group executed at the same time (still delivered in order). Default 8. */
  readonly maxConcurrentEvents?: number;
}

/**
 * What the hub's upstreams and groups share: the executions of the rest of the plan in flight, by
 * group key and upstream event. Groups of different upstreams with the same key (the clients that
 * resumed, each on an upstream of its own, and the shared one once they are live) get identical
 * events: one execution serves them all, as one group's does for its clients. Without it, 1 000
 * clients resuming at once made 1 000 entity fetches per event and the subgraph of the rest timed
 * out (SERVICE_UNAVAILABLE instead of the event; the resume scenario of the benchmark).
 */
interface SharingOptions extends HubOptions {
  readonly executions: Map<string, Promise<ExecutionResult>>;
}

/** `run()`, or the identical execution already in flight under `key` (removed once it settles). */
function executeOnce(executions: Map<string, Promise<ExecutionResult>>, key: string, run: () => Promise<ExecutionResult>): Promise<ExecutionResult> {
  const running = executions.get(key);
  if (running) return running;
  const started = run().finally(() => executions.delete(key));
  executions.set(key, started);
  return started;
}

/** One client subscription to attach. */
export interface ClientSubscription {
  readonly plan: SubscriptionPlan;
  /** The client's query text (part of the group key, and what the executor reports). */
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly identity: Identity | null;
  readonly stream: ClientStream;
  /** The http(s) URL of the owning subgraph. */
  readonly subgraphUrl: string;
  /** Resume after this cursor (the client's `extensions.resumeFrom`): an upstream subscription of its own replays from it. */
  readonly resumeFrom?: string;
}

export class SubscriptionHub {
  private readonly upstreams = new Map<string, SharedUpstream>();
  private resumes = 0;
  private readonly options: SharingOptions;

  constructor(
    private readonly connections: UpstreamConnections,
    options: HubOptions,
  ) {
    this.options = { ...options, executions: new Map() };
  }

  /** Upstream subscriptions currently open. */
  get upstreamCount(): number {
    return this.upstreams.size;
  }

  /** Attaches a client subscription, opening (or joining) its upstream subscription. */
  attach(client: ClientSubscription): void {
    const { plan } = client;
    const isPublic = this.options.publicRootFields.has(plan.rootField);
    const upstreamIdentity = isPublic ? null : client.identity;
    const variables = primaryVariables(plan, client.variables);
    // A resuming client replays from its own position: an upstream subscription of its own (never
    // shared: the others are at another position), which goes live once the subgraph replayed.
    const key = [plan.subgraph, plan.upstreamQuery, stableJson(variables), identityKey(upstreamIdentity, true), client.resumeFrom ? `resume ${++this.resumes}` : ''].join('\n');
    let upstream = this.upstreams.get(key);
    // The client's subscribe, as a span of its own (no-op when tracing is off).
    tracer()
      .startSpan(`${plan.rootField} subscribe`, { kind: SpanKind.SERVER, attributes: { [SERVICE_ATTRIBUTE]: 'gateway', 'graphql.operation.type': 'subscription', 'shop.subscription.subgraph': plan.subgraph, 'shop.subscription.shared_upstream': Boolean(upstream) } })
      .end();
    if (!upstream) {
      const created: SharedUpstream = new SharedUpstream(plan, client.subgraphUrl, upstreamIdentity, variables, client.resumeFrom, this.options, () => {
        if (this.upstreams.get(key) === created) this.upstreams.delete(key);
      });
      upstream = created;
      this.upstreams.set(key, upstream);
      upstream.open(this.connections);
    }
    upstream.join(client);
  }

  /** Ends every upstream subscription (shutdown; clients must have been ended first). */
  closeAll(): void {
    for (const upstream of [...this.upstreams.values()]) upstream.close();
  }
}

class SharedUpstream {
  private readonly groups = new Map<string, DeliveryGroup>();
  private subscription: UpstreamSubscription | undefined;
  private closed = false;

  constructor(
    private readonly plan: SubscriptionPlan,
    private readonly url: string,
    private readonly identity: Identity | null,
    variables: Record<string, unknown>,
    resumeFrom: string | undefined,
    private readonly options: SharingOptions,
    private readonly onClosed: () => void,
  ) {
    this.request = { query: plan.upstreamQuery, variables, extensions: resumeFrom ? { resumeFrom } : {} };
  }

  /**
   * The subscribe request. Its `extensions.resumeFrom` follows the newest cursor received: the
   * graphql-ws client sends this same object again when it resubscribes after a drop (a subgraph
   * restart), so the subgraph replays what was published meanwhile and nobody misses it.
   */
  private readonly request: { query: string; variables: Record<string, unknown>; extensions: { resumeFrom?: string } };

  open(connections: UpstreamConnections): void {
    this.subscription = connections.subscribe(
      this.plan.subgraph,
      this.url,
      this.identity,
      this.request,
      {
        next: (event) => this.onEvent(event),
        error: (error) => this.onUpstreamEnd(error),
        complete: () => this.onUpstreamEnd(undefined),
      },
    );
  }

  join(client: ClientSubscription): void {
    const key = [client.query, client.plan.operationName ?? '', stableJson(client.variables), identityKey(client.identity, false)].join('\n');
    let group = this.groups.get(key);
    if (!group) {
      group = new DeliveryGroup(key, client, this.options, () => {
        this.groups.delete(key);
        if (this.groups.size === 0) this.close();
      });
      this.groups.set(key, group);
    }
    group.add(client);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription?.unsubscribe();
    this.onClosed();
    for (const group of [...this.groups.values()]) group.end();
  }

  private onEvent(event: FormattedExecutionResult): void {
    const cursor = event.extensions?.['cursor'];
    if (typeof cursor === 'string') this.request.extensions.resumeFrom = cursor;
    const stamped = event.extensions?.['eventTime'];
    const parsed = typeof stamped === 'string' ? Date.parse(stamped) : Number.NaN;
    const eventTime = Number.isFinite(parsed) ? parsed : Date.now();
    // The subgraph's event span, when it sent its context: the delivery continues that trace.
    const carrier = event.extensions?.['traceContext'];
    const traced = carrier && typeof carrier === 'object' ? (carrier as Record<string, string>) : undefined;
    const parent = traced ? extractTraceContext(traced) : context.active();
    const requestId = traced ? requestIdFrom(traced) : undefined;
    const push = (): void => {
      for (const group of this.groups.values()) group.push(event, eventTime, parent, typeof cursor === 'string' ? cursor : undefined);
    };
    if (requestId === undefined) push();
    else withRequestId(requestId, push);
  }

  /** The subgraph completed the subscription (or refused it): clients get what it said, then `complete`. */
  private onUpstreamEnd(error: unknown): void {
    if (this.closed) return;
    const final = error === undefined ? undefined : upstreamError(error, this.plan.subgraph, this.options.logger);
    for (const group of [...this.groups.values()]) group.end(final);
    this.closed = true;
    this.subscription?.unsubscribe();
    this.onClosed();
  }
}

class DeliveryGroup {
  private readonly clients = new Set<ClientStream>();
  /** What the group executes for each event (identical for every member, by the group key). */
  private readonly request: Pick<ClientSubscription, 'plan' | 'query' | 'variables'>;
  /** The member whose identity executes the rest of the plan: the latest-expiring one. */
  private identity: Identity | null;
  private tail: Promise<void> = Promise.resolve();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private ended = false;

  constructor(
    /** The group key (client operation, variables, caller): with the event, what the execution depends on. */
    private readonly key: string,
    first: ClientSubscription,
    private readonly options: SharingOptions,
    private readonly onEmpty: () => void,
  ) {
    this.request = { plan: first.plan, query: first.query, variables: first.variables };
    this.identity = first.identity;
  }

  add(client: ClientSubscription): void {
    if (client.identity && (!this.identity || client.identity.exp > this.identity.exp)) this.identity = client.identity;
    this.clients.add(client.stream);
    const stream = client.stream;
    void stream.finished.then(() => this.remove(stream));
  }

  push(event: FormattedExecutionResult, eventTime: number, parent: Context, cursor: string | undefined): void {
    if (this.ended) return;
    const { plan, query, variables } = this.request;
    const identity = this.identity;
    // One span per event and group: the upstream event, the entity fetches of the rest of the
    // plan (@apollo/gateway's fetch spans, children of it) and the send to the group's clients.
    const span = tracer().startSpan(`${plan.rootField} upstream event`, { kind: SpanKind.CONSUMER, attributes: { [SERVICE_ATTRIBUTE]: 'gateway', 'graphql.operation.type': 'subscription', 'shop.subscription.subgraph': plan.subgraph } }, parent);
    const spanContext = trace.setSpan(parent, span);
    const execution = [plan.subgraph, this.key, stableJson({ data: event.data, errors: event.errors })].join('\n');
    const result = this.limit(() => context.with(spanContext, () => executeOnce(this.options.executions, execution, () => executeEvent(plan, event, { query, variables, identity, logger: this.options.logger }))));
    // Concurrent execution, ordered delivery: each delivery waits for the previous one.
    this.tail = this.tail.then(async () => {
      try {
        const delivered = await result;
        if (delivered.errors?.length) subscriptionMetrics.restErrors.inc({ root_field: plan.rootField });
        await inSpan(`${plan.rootField} send`, { kind: SpanKind.PRODUCER, parent: spanContext, attributes: { [SERVICE_ATTRIBUTE]: 'gateway', 'shop.subscription.clients': this.clients.size } }, async () => {
          for (const stream of this.clients) stream.push(cursor === undefined ? { result: delivered, eventTime } : { result: delivered, eventTime, cursor });
        });
      } finally {
        span.end();
      }
    });
  }

  /** Ends every client stream after the events already on their way. */
  end(final?: ExecutionResult): void {
    if (this.ended) return;
    this.ended = true;
    void this.tail.then(() => {
      for (const stream of [...this.clients]) stream.finish(final);
    });
  }

  private remove(stream: ClientStream): void {
    if (!this.clients.delete(stream)) return;
    if (this.clients.size === 0) {
      this.ended = true;
      this.onEmpty();
    }
  }

  private async limit<T>(task: () => Promise<T>): Promise<T> {
    const max = this.options.maxConcurrentEvents ?? 8;
    if (this.running >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

function upstreamError(error: unknown, subgraph: string, logger: Logger): ExecutionResult {
  // graphql-ws delivers an `error` message as an array of formatted GraphQL errors (validation
  // errors of the upstream operation); anything else is a fatal close or a socket error.
  if (Array.isArray(error) && error.every((e) => typeof e === 'object' && e !== null && 'message' in e)) {
    return { errors: error.map((e: { message: string; extensions?: Record<string, unknown> }) => new GraphQLError(e.message, { extensions: { ...e.extensions } })) };
  }
  const detail = typeof error === 'object' && error !== null && 'code' in error ? `${String((error as { code: unknown }).code)} ${String((error as { reason?: unknown }).reason ?? '')}` : String(error);
  logger.warn({ subgraph, detail }, 'subgraph ended a subscription with an error');
  return { errors: [serviceUnavailable('The subscription was ended by the service that owns it; subscribe again.', { subgraph })] };
}

/** The part of an identity results may depend on. With `exact`, the whole signed identity (the upstream subscription's). */
function identityKey(identity: Identity | null, exact: boolean): string {
  if (!identity) return 'anonymous';
  if (exact) return JSON.stringify(identity);
  return `${identity.userId}|${[...identity.roles].sort().join(',')}`;
}


const JSON_TEXT = new WeakMap<object, string>();

/** `JSON.stringify(value)`, made once per object: a group's clients share one formatted result, so one text. */
export function jsonOnce(value: object): string {
  let text = JSON_TEXT.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    JSON_TEXT.set(value, text);
  }
  return text;
}

/** What a {@link SerialisedPayload} serialises to, in the message around it (a JSON string no result can end a message with). */
const PLACEHOLDER = '\u0000shop-serialised-payload';
const PLACEHOLDER_SUFFIX = `,"payload":${JSON.stringify(PLACEHOLDER)}}`;
/** The text of the payload serialised last; taken by the send that follows it synchronously. */
let pendingText: string | undefined;

/**
 * A graphql-ws `next` payload whose JSON text already exists ({@link jsonOnce}). graphql-ws builds
 * the message (`{"id":…,"type":"next","payload":…}`) with `JSON.stringify` and hands it to the
 * transport's `send` in the same synchronous step: this serialises as a placeholder and
 * {@link spliceSerialised} puts the text in its place, so the payload is not serialised again for
 * each client.
 */
export class SerialisedPayload {
  constructor(readonly text: string) {}

  toJSON(): string {
    pendingText = this.text;
    return PLACEHOLDER;
  }
}

/** The graphql-ws message with a {@link SerialisedPayload}'s text in place of its placeholder (any other message unchanged). */
export function spliceSerialised(message: string): string {
  const text = pendingText;
  pendingText = undefined;
  if (text === undefined || !message.endsWith(PLACEHOLDER_SUFFIX)) return message;
  return `${message.slice(0, message.length - PLACEHOLDER_SUFFIX.length)},"payload":${text}}`;
}

/** A socket whose writes can be held and flushed together (net.Socket's cork/uncork). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Writes to one socket within a tick flushed as one batch (one `writev` instead of a write per
 * frame): the first write of a tick corks the socket, the end of the tick (after the fan-out's
 * promise continuations) uncorks it. A connection carrying many subscriptions gets an event's
 * frames in one system call.
 */
export class BatchedWrites {
  private corked = false;

  constructor(private readonly socket: Corkable | undefined) {}

  /** Call before each write. */
  hold(): void {
    if (this.corked || !this.socket) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket?.uncork();
    });
  }
}
