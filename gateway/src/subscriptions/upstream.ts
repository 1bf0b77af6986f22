/**
 * graphql-ws connections from the gateway to the subgraphs.
 *
 * One connection per subgraph (per gateway process), whatever the callers: `connection_init` only
 * proves that the gateway opens it (the handshake signed as `GET <path>` for that subgraph, with no
 * identity, afresh on every (re)connection), and each subscribe message carries its own caller's
 * identity in `extensions.shopIdentity`, signed for that subgraph, that operation and those
 * variables, with a lifetime of seconds (internal-request.ts `SUBSCRIPTION_IDENTITY_EXTENSION`).
 * The subgraph verifies it per subscription and runs the subscription as that caller; a refused
 * identity ends that subscription only. So upstream sockets do not grow with signed-in users. A
 * connection lives while it carries at least one subscription.
 *
 * Resilience: a dropped connection (subgraph restart, network cut, missed pong) is reopened with
 * exponential backoff and jitter, for as long as it carries subscriptions, and graphql-ws's client
 * resubscribes each of them on the new socket (each identity signed again: the signature is made
 * when the message is serialised): the clients' subscriptions never notice, apart from the events
 * the subgraph published while nobody listened (see docs/notes/subscriptions.md).
 */
import type { Client, Sink } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import type { FormattedExecutionResult } from 'graphql';
import WebSocket from 'ws';
import type { Identity, Logger } from '@shop/platform';
import { PongWatch, signInternalRequest, SUBSCRIBE_METHOD, SUBSCRIPTION_IDENTITY_EXTENSION, subscriptionBody } from '@shop/platform';
import { subscriptionMetrics } from './metrics';

export interface UpstreamOptions {
  readonly internalAuthSecret: string;
  /** Lifetime of the signatures of the handshake and of each subscription's identity. Default 10 s. */
  readonly internalRequestTtlSeconds?: number;
  readonly logger: Logger;
  /** Ping interval on upstream sockets; a pong later than as long drops and reopens the socket. Default 10 s. */
  readonly keepAliveMs?: number;
  /** First reconnection delay, doubled per attempt up to `retryMaxMs`, ±50 % jitter. Default 200 ms. */
  readonly retryBaseMs?: number;
  /** Longest reconnection delay. Default 5 s. */
  readonly retryMaxMs?: number;
}

/** A subscription opened on a subgraph; `unsubscribe` completes it there. */
export interface UpstreamSubscription {
  unsubscribe(): void;
}

interface Connection {
  readonly client: Client;
  refs: number;
}

/** Close codes that retrying with the same connection_init cannot fix: the subgraph refused the gateway. */
const FATAL_CLOSE_CODES = new Set([4401, 4403]);

export class UpstreamConnections {
  private readonly connections = new Map<string, Connection>();
  private disposed = false;

  constructor(private readonly options: UpstreamOptions) {}

  /** Open connections (one per subgraph). */
  get size(): number {
    return this.connections.size;
  }

  /**
   * Subscribes `query` on `url` (http(s) URL of the subgraph's GraphQL endpoint) as `identity`, on
   * the subgraph's one shared connection. `request.extensions` (if any) go with the subscribe
   * message, beside the signed identity. The sink's `complete`/`error` end it for good; drops in
   * between are retried invisibly.
   */
  subscribe(
    subgraph: string,
    url: string,
    identity: Identity | null,
    request: { query: string; variables: Record<string, unknown>; extensions?: Record<string, unknown> },
    sink: Sink<FormattedExecutionResult>,
  ): UpstreamSubscription {
    if (this.disposed) throw new Error('The subscription gateway is shutting down.');
    const key = `${subgraph}\n${url}`;
    let connection = this.connections.get(key);
    if (!connection) {
      connection = { client: this.createClient(subgraph, url), refs: 0 };
      this.connections.set(key, connection);
    }
    connection.refs++;
    subscriptionMetrics.upstreams.inc({ subgraph });
    const path = upstreamPath(url);
    const { query, variables } = request;
    const extensions = request.extensions ?? {};
    const sign = (): Record<string, string> =>
      signInternalRequest({
        secret: this.options.internalAuthSecret,
        audience: subgraph,
        method: SUBSCRIBE_METHOD,
        path,
        body: subscriptionBody(query, variables),
        identity,
        ...(this.options.internalRequestTtlSeconds ? { ttlSeconds: this.options.internalRequestTtlSeconds } : {}),
      });
    // graphql-ws serialises the payload each time it sends the subscribe message (first, then after
    // every reconnection): `toJSON` signs the identity right then, so a resubscription never
    // carries an expired signature.
    const payload = {
      query,
      variables,
      extensions: identity ? { toJSON: () => ({ ...extensions, [SUBSCRIPTION_IDENTITY_EXTENSION]: sign() }) } : extensions,
    };
    const unsubscribe = connection.client.subscribe<FormattedExecutionResult>(payload, sink);
    let released = false;
    return {
      unsubscribe: () => {
        if (released) return;
        released = true;
        unsubscribe();
        subscriptionMetrics.upstreams.dec({ subgraph });
        const current = this.connections.get(key);
        if (current && --current.refs === 0) {
          this.connections.delete(key);
          void current.client.dispose();
        }
      },
    };
  }

  /** Closes every upstream socket (their subscriptions must have been ended first). */
  async dispose(): Promise<void> {
    this.disposed = true;
    const clients = [...this.connections.values()].map((c) => c.client);
    this.connections.clear();
    await Promise.all(clients.map(async (c) => c.dispose()));
  }

  private createClient(subgraph: string, url: string): Client {
    const { logger } = this.options;
    const keepAlive = this.options.keepAliveMs ?? 10_000;
    const base = this.options.retryBaseMs ?? 200;
    const max = this.options.retryMaxMs ?? 5_000;
    const wsUrl = new URL(url);
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    let client: Client | undefined;
    const pongs = new PongWatch(keepAlive, () => client?.terminate());
    client = createClient({
      url: wsUrl.href,
      webSocketImpl: WebSocket,
      // Signed at each (re)connection: a signature lives seconds. No identity: the subscriptions carry theirs.
      connectionParams: () =>
        signInternalRequest({
          secret: this.options.internalAuthSecret,
          audience: subgraph,
          method: 'GET',
          path: upstreamPath(url),
          body: '',
          identity: null,
          ...(this.options.internalRequestTtlSeconds ? { ttlSeconds: this.options.internalRequestTtlSeconds } : {}),
        }),
      lazy: true,
      keepAlive,
      // Reconnect as long as subscriptions need the connection; only a refused handshake is final.
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: (errOrClose) => !(isCloseEvent(errOrClose) && FATAL_CLOSE_CODES.has(errOrClose.code)),
      retryWait: async (retries) => {
        const delay = Math.min(max, base * 2 ** retries) * (0.5 + Math.random() / 2);
        await new Promise((resolve) => setTimeout(resolve, delay));
      },
      on: {
        connected: (_socket, _payload, wasRetry) => {
          if (wasRetry) {
            subscriptionMetrics.upstreamReconnects.inc({ subgraph });
            logger.info({ subgraph }, 'reconnected to subgraph subscriptions; resubscribing');
          }
        },
        // graphql-ws pings but does not detect a dead peer: a missed pong terminates the socket, and
        // the retry logic reconnects.
        ping: (received) => {
          if (!received) pongs.pinged();
        },
        pong: (received) => {
          if (received) pongs.clear();
        },
        closed: (event) => {
          pongs.clear();
          if (isCloseEvent(event) && event.code !== 1000) logger.warn({ subgraph, code: event.code, reason: event.reason }, 'subgraph subscription connection closed');
        },
        error: (err) => logger.warn({ subgraph, err: err instanceof Error ? err.message : String(err) }, 'subgraph subscription connection error'),
      },
    });
    return client;
  }
}

/** Path and query string of the subgraph's graphql-ws endpoint (what the subgraph sees as the upgrade URL). */
function upstreamPath(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}
