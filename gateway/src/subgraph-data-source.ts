import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Identity } from '@shop/platform';
import { GraphQLError } from 'graphql';
import { counter, histogram, injectTraceContext, serviceUnavailable, signClientAddress, signIdentity } from '@shop/platform';

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

/**
 * Sends subgraph requests with the caller's verified identity, signed with the internal secret,
 * so a subgraph can trust it (and reject a forged one sent to it directly).
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext & Record<string, unknown>> {
  constructor(
    private readonly subgraph: string,
    url: string,
    private readonly internalSecret: string,
  ) {
    super({ url, fetcher: keepAliveFetcher });
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext & Record<string, unknown>>): void {
    const { request } = options;
    const identity = 'context' in options ? options.context?.identity : null;
    if (identity && request.http) {
      for (const [name, value] of Object.entries(signIdentity(identity, this.internalSecret))) request.http.headers.set(name, value);
    }
    const clientAddress = 'context' in options ? options.context?.clientAddress : undefined;
    if (clientAddress && request.http) {
      for (const [name, value] of Object.entries(signClientAddress(clientAddress, this.internalSecret))) request.http.headers.set(name, value);
    }
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
