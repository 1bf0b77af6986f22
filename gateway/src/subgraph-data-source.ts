import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLRequest, GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { STATUS_CODES } from 'node:http';
import type { Fetcher, FetcherHeaders, FetcherResponse } from '@apollo/utils.fetcher';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import type { Identity } from '@shop/platform';
import { GraphQLError } from 'graphql';
import { CLIENT_ADDRESS_HEADER, counter, histogram, IDENTITY_HEADER, injectTraceContext, serviceUnavailable, signInternalRequest } from '@shop/platform';
import type { EntityCache } from './cache/entity-cache';

/** The gateway's per-request context. */
export interface GatewayContext {
  readonly identity: Identity | null;
  readonly authorization?: string | undefined;
  /** The caller's network address as the gateway saw it (sent to subgraphs signed, for rate limits). */
  readonly clientAddress?: string | undefined;
}

/** One keep-alive connection pool for every subgraph call of this process. */
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1 });

/**
 * The fetcher of every subgraph call: undici's `request` on the shared keep-alive pool, answered as
 * the small `Fetcher` response @apollo/gateway reads (status, headers, text/json). Not undici's
 * `fetch`: its WHATWG machinery (Request, Headers, web streams) was 17 % of the gateway's CPU in
 * the gateway benchmark's profile (docs/notes/gateway-bench.md). Redirects are not followed (a
 * subgraph URL that redirects is a misconfiguration, answered as the non-2xx it is).
 */
export const keepAliveFetcher: Fetcher = async (url, init) => {
  const target = parsedUrl(url);
  const response = await agent.request({
    origin: target.origin,
    path: target.path,
    method: (init?.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: init?.headers,
    body: init?.body ?? null,
    signal: init?.signal as AbortSignal | undefined,
  });
  return new SubgraphResponse(url, response.statusCode, new ResponseHeaders(response.headers), response.body.text());
};

/** Subgraph URLs parsed once (a gateway calls a handful of them, millions of times). */
const parsedUrls = new Map<string, { readonly origin: string; readonly path: string }>();
function parsedUrl(url: string): { readonly origin: string; readonly path: string } {
  let parsed = parsedUrls.get(url);
  if (!parsed) {
    const target = new URL(url);
    parsed = { origin: target.origin, path: `${target.pathname}${target.search}` };
    if (parsedUrls.size >= 1_000) parsedUrls.clear();
    parsedUrls.set(url, parsed);
  }
  return parsed;
}

/** A subgraph's response as @apollo/gateway reads it; the body is read once, eagerly, and shared by clones. */
class SubgraphResponse implements FetcherResponse {
  readonly redirected = false;
  bodyUsed = false;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly headers: FetcherHeaders,
    private readonly body: Promise<string>,
  ) {
    // Read at once so that the connection goes back to the pool even if nobody asks for the body.
    body.catch(() => undefined);
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get statusText(): string {
    return STATUS_CODES[this.status] ?? '';
  }

  text(): Promise<string> {
    this.bodyUsed = true;
    return this.body;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = Buffer.from(await this.text(), 'utf8');
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  clone(): FetcherResponse {
    return new SubgraphResponse(this.url, this.status, this.headers, this.body);
  }
}

/** Read-only response headers over undici's (lower-case names; repeated ones joined with ", " as fetch does). */
class ResponseHeaders implements FetcherHeaders {
  constructor(private readonly raw: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  append(): void {
    throw new TypeError('subgraph response headers are read-only');
  }

  set(): void {
    throw new TypeError('subgraph response headers are read-only');
  }

  delete(): void {
    throw new TypeError('subgraph response headers are read-only');
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.raw)) {
      const value = this.get(name);
      if (value !== null) yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

const fetchSeconds = histogram({ name: 'gateway_subgraph_fetch_duration_seconds', help: 'Duration of fetches from the gateway to a subgraph.', labelNames: ['subgraph'] });
const fetchErrors = counter({ name: 'gateway_subgraph_errors_total', help: 'Failed subgraph fetches (network errors, non-2xx) and GraphQL errors returned by subgraphs.', labelNames: ['subgraph', 'kind'] });

/** What the gateway needs to sign its subgraph requests. */
export interface SigningOptions {
  readonly internalSecret: string;
  /** Lifetime of each signature. Default 10 s (DEFAULT_INTERNAL_REQUEST_TTL_SECONDS). */
  readonly ttlSeconds?: number;
  /** Longest wait for a subgraph's answer, ms; past it the fetch fails (and stale-if-error may answer). Default none. */
  readonly timeoutMs?: number;
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
    const target = parsedUrl(url);
    const identityHeader = headers[IDENTITY_HEADER];
    const signed = signInternalRequest({
      secret: signing.internalSecret,
      audience: subgraph,
      method: init?.method ?? 'POST',
      path: target.path,
      body: typeof init?.body === 'string' ? init.body : '',
      identity: identityHeader ? (JSON.parse(Buffer.from(identityHeader, 'base64url').toString('utf8')) as Identity) : null,
      clientAddress: headers[CLIENT_ADDRESS_HEADER],
      ...(signing.ttlSeconds ? { ttlSeconds: signing.ttlSeconds } : {}),
    });
    const timeout = signing.timeoutMs && !init?.signal ? { signal: AbortSignal.timeout(signing.timeoutMs) } : {};
    return keepAliveFetcher(url, { ...init, ...timeout, headers: { ...headers, ...signed } } as Parameters<Fetcher>[1]);
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
    /** The entity cache and stale-if-error (cache/entity-cache.ts). Default none: every fetch goes to the subgraph. */
    private readonly cache?: EntityCache,
  ) {
    super({ url, fetcher: signingFetcher(subgraph, typeof signing === 'string' ? { internalSecret: signing } : signing) });
    // @apollo/gateway's sendRequest (private in its types) is replaced by leanSendRequest below.
    (this as unknown as { sendRequest: unknown }).sendRequest = this.leanSendRequest;
  }

  /**
   * @apollo/gateway's `sendRequest` without the node-fetch `Request` it builds for every call only
   * to hand it to `parseBody` and `didEncounterError`, which never read it here (URL parsing,
   * header copies: 4-5 % of the gateway's CPU in the benchmark's profile). Same steps otherwise:
   * the body without `http`, a non-2xx as `errorFromResponse`, a non-object body refused.
   */
  private async leanSendRequest(request: GatewayGraphQLRequest, context: GatewayContext & Record<string, unknown>): Promise<GatewayGraphQLResponse> {
    const { http, ...requestWithoutHttp } = request;
    if (!http) throw new Error("Internal error: Only 'http' requests are supported.");
    const init = { method: http.method, headers: Object.fromEntries(http.headers), body: JSON.stringify(requestWithoutHttp) };
    // What the hooks get for the request: its URL, method and headers (never read by ours).
    const described = { url: http.url, method: http.method, headers: init.headers } as never;
    let response: FetcherResponse | undefined;
    try {
      response = await this.fetcher(http.url, init);
      if (!response.ok) throw await this.errorFromResponse(response);
      const body: unknown = await this.parseBody(response, described, context);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error(`Expected JSON response body, but received: ${String(body)}`);
      return { ...(body as GatewayGraphQLResponse), http: response } as GatewayGraphQLResponse;
    } catch (error) {
      this.didEncounterError(error as Error, described, response as never, context, request as never);
      throw error;
    }
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
    return this.cache ? this.cache.process(this.subgraph, options as never, (o) => this.fetch(o as typeof options)) : this.fetch(options);
  }

  /** One fetch from the subgraph, measured; a failure that is not a GraphQL answer becomes SERVICE_UNAVAILABLE. */
  private async fetch(options: GraphQLDataSourceProcessOptions<GatewayContext & Record<string, unknown>>) {
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
