import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Identity } from '@shop/platform';
import { GraphQLError } from 'graphql';
import { CLIENT_ADDRESS_HEADER, counter, histogram, IDENTITY_HEADER, injectTraceContext, serviceUnavailable, signInternalRequest } from '@shop/platform';

/** The gateway's per-request context. */
export interface GatewayContext {
  readonly identity: Identity | null;
  readonly authorization?: string | undefined;
  /** The caller's network address as the gateway saw it (sent to subgraphs signed, for rate limits). */
  readonly clientAddress?: string | undefined;
}

/** One keep-alive connection pool for every subgraph call of this process. */
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1 });
export const keepAliveFetcher = ((url: string, init?: Parameters<Fetcher>[1]) =>
  undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as Fetcher;

const fetchSeconds = histogram({ name: 'gateway_subgraph_fetch_duration_seconds', help: 'Duration of fetches from the gateway to a subgraph.', labelNames: ['subgraph'] });
const fetchErrors = counter({ name: 'gateway_subgraph_errors_total', help: 'Failed subgraph fetches (network errors, non-2xx) and GraphQL errors returned by subgraphs.', labelNames: ['subgraph', 'kind'] });

/** What the gateway needs to sign its subgraph requests. */
export interface SigningOptions {
  readonly internalSecret: string;
  /** Lifetime of each signature. Default 10 s (DEFAULT_INTERNAL_REQUEST_TTL_SECONDS). */
  readonly ttlSeconds?: number;
}

/**
 * A fetcher that signs each request for `subgraph` as it leaves (internal-request.ts): the
 * signature covers the audience, method, path and the exact body, the identity and client address
 * headers set by `willSendRequest`, and lives seconds. (@apollo/gateway hands the fetcher the
 * final body and its headers as a plain object with lower-case names.)
 */
function signingFetcher(subgraph: string, signing: SigningOptions): Fetcher {
  return ((url: string, init?: Parameters<Fetcher>[1]) => {
    const headers = { ...(init?.headers as Record<string, string> | undefined) };
    const target = new URL(url);
    const identityHeader = headers[IDENTITY_HEADER];
    const signed = signInternalRequest({
      secret: signing.internalSecret,
      audience: subgraph,
      method: init?.method ?? 'POST',
      path: `${target.pathname}${target.search}`,
      body: typeof init?.body === 'string' ? init.body : '',
      identity: identityHeader ? (JSON.parse(Buffer.from(identityHeader, 'base64url').toString('utf8')) as Identity) : null,
      clientAddress: headers[CLIENT_ADDRESS_HEADER],
      ...(signing.ttlSeconds ? { ttlSeconds: signing.ttlSeconds } : {}),
    });
    return keepAliveFetcher(url, { ...init, headers: { ...headers, ...signed } });
  }) as Fetcher;
}

/**
 * Sends subgraph requests with the caller's verified identity, every request signed for its
 * subgraph with the internal secret, so a subgraph can trust it and refuses anything else (a
 * forged identity, a header captured and replayed elsewhere or later).
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext & Record<string, unknown>> {
  constructor(
    private readonly subgraph: string,
    url: string,
    signing: SigningOptions | string,
  ) {
    super({ url, fetcher: signingFetcher(subgraph, typeof signing === 'string' ? { internalSecret: signing } : signing) });
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext & Record<string, unknown>>): void {
    const { request } = options;
    // Set here, signed by the fetcher with the body.
    const identity = 'context' in options ? options.context?.identity : null;
    if (identity && request.http) request.http.headers.set(IDENTITY_HEADER, Buffer.from(JSON.stringify(identity)).toString('base64url'));
    const clientAddress = 'context' in options ? options.context?.clientAddress : undefined;
    if (clientAddress && request.http) request.http.headers.set(CLIENT_ADDRESS_HEADER, clientAddress);
    const authorization = 'context' in options ? options.context?.authorization : undefined;
    if (authorization && request.http) request.http.headers.set('authorization', authorization);
    // W3C trace context of the active span (@apollo/gateway's fetch span): the subgraph continues the trace.
    if (request.http) for (const [name, value] of Object.entries(injectTraceContext({}))) request.http.headers.set(name, value);
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext & Record<string, unknown>>) {
    const end = fetchSeconds.startTimer({ subgraph: this.subgraph });
    try {
      const response = await super.process(options);
      if (response.errors?.length) fetchErrors.inc({ subgraph: this.subgraph, kind: 'graphql' });
      return response;
    } catch (error) {
      fetchErrors.inc({ subgraph: this.subgraph, kind: 'fetch' });
      // Not a GraphQL answer (refused, reset, timed out): the client may retry, and should know it.
      if (error instanceof GraphQLError) throw error;
      throw serviceUnavailable(`The ${this.subgraph} service is unavailable; retry in a moment.`, { service: this.subgraph });
    } finally {
      end();
    }
  }
}
