import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
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
 * The fetcher of every subgraph call: undici's `dispatch` on the shared keep-alive pool with a
 * handler that collects the body, answered as the small `Fetcher` response @apollo/gateway reads
 * (status, headers, text/json). Not undici's `fetch`: its WHATWG machinery (Request, Headers, web
 * streams) was 17 % of the gateway's CPU in the gateway benchmark's profile
 * (docs/notes/gateway-bench.md); nor its `request`, whose body is a Readable stream consumed
 * again into text (4-6 % of the profile for bodies that are always read whole). Redirects are not
 * followed (a subgraph URL that redirects is a misconfiguration, answered as the non-2xx it is).
 * The answer comes once the whole body is in; a failure or an abort (`signal`) while connecting,
 * sending or reading rejects it.
 */
export const keepAliveFetcher: Fetcher = (url, init) => {
  const target = parsedUrl(url);
  return new Promise<FetcherResponse>((resolve, reject) => {
    const handler = new CollectingHandler(url, resolve, reject, init?.signal as AbortSignal | undefined);
    if (handler.settled) return;
    agent.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: (init?.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: init?.headers as Record<string, string> | undefined,
        body: init?.body ?? null,
      },
      handler,
    );
  });
};

/** Collects one response (undici's handler protocol, as its own `request` implements it) into a {@link SubgraphResponse}. */
class CollectingHandler implements Dispatcher.DispatchHandler {
  settled = false;
  private status = 0;
  private headers: Record<string, string | string[]> = {};
  private readonly chunks: Buffer[] = [];
  private abort: ((reason?: Error) => void) | undefined;
  private reason: Error | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly resolve: (response: FetcherResponse) => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal?.aborted) {
      this.fail(abortReason(signal));
    } else if (signal) {
      this.onAbort = () => {
        this.reason = abortReason(signal);
        if (this.abort) this.abort(this.reason);
        else this.fail(this.reason);
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.reason || this.settled) abort(this.reason);
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    if (statusCode < 200) return true;
    this.status = statusCode;
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; rawHeaders && i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      const value = rawHeaders[i + 1]!.toString('latin1');
      const existing = headers[name];
      headers[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    }
    this.headers = headers;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanUp();
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    let text = bytes.toString('utf8');
    // As undici's body.text(): a UTF-8 byte order mark is not part of the text.
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.resolve(new SubgraphResponse(this.url, this.status, new ResponseHeaders(this.headers), Promise.resolve(text)));
  }

  onError(error: Error): void {
    this.fail(this.reason ?? error);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanUp();
    this.reject(error);
  }

  private cleanUp(): void {
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}

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

/** The signed headers of one request for `subgraph` (internal-request.ts), `identity` given as the caller's verified one. */
function signedHeaders(subgraph: string, signing: SigningOptions, path: string, method: string, body: string, identity: Identity | null, clientAddress: string | undefined): Record<string, string> {
  return signInternalRequest({
    secret: signing.internalSecret,
    audience: subgraph,
    method,
    path,
    body,
    identity,
    clientAddress,
    ...(signing.ttlSeconds ? { ttlSeconds: signing.ttlSeconds } : {}),
  });
}

/**
 * A fetcher that signs each request for `subgraph` as it leaves (internal-request.ts): the
 * signature covers the audience, method, path and the exact body, the identity and client address
 * headers, and lives seconds. (The headers come as a plain object with lower-case names, the
 * identity as its header value.) What `this.fetcher` of a SubgraphDataSource is, for whoever calls
 * it directly; the data source's own requests are signed in {@link SubgraphDataSource.send}.
 */
function signingFetcher(subgraph: string, signing: SigningOptions): Fetcher {
  return ((url: string, init?: Parameters<Fetcher>[1]) => {
    const headers = { ...(init?.headers as Record<string, string> | undefined) };
    const identityHeader = headers[IDENTITY_HEADER];
    const identity = identityHeader ? (JSON.parse(Buffer.from(identityHeader, 'base64url').toString('utf8')) as Identity) : null;
    const signed = signedHeaders(subgraph, signing, parsedUrl(url).path, init?.method ?? 'POST', typeof init?.body === 'string' ? init.body : '', identity, headers[CLIENT_ADDRESS_HEADER]);
    const timeout = signing.timeoutMs && !init?.signal ? { signal: AbortSignal.timeout(signing.timeoutMs) } : {};
    return keepAliveFetcher(url, { ...init, ...timeout, headers: { ...headers, ...signed } } as Parameters<Fetcher>[1]);
  }) as Fetcher;
}

type ProcessOptions = GraphQLDataSourceProcessOptions<GatewayContext & Record<string, unknown>>;

/**
 * Sends subgraph requests with the caller's verified identity, every request signed for its
 * subgraph with the internal secret, so a subgraph can trust it and refuses anything else (a
 * forged identity, a header captured and replayed elsewhere or later).
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext & Record<string, unknown>> {
  private readonly signing: SigningOptions;
  private readonly target: { readonly origin: string; readonly path: string } | undefined;

  constructor(
    private readonly subgraph: string,
    url: string,
    signing: SigningOptions | string,
    /** The entity cache and stale-if-error (cache/entity-cache.ts). Default none: every fetch goes to the subgraph. */
    private readonly cache?: EntityCache,
  ) {
    const options = typeof signing === 'string' ? { internalSecret: signing } : signing;
    super({ url, fetcher: signingFetcher(subgraph, options) });
    this.signing = options;
    this.target = url ? parsedUrl(url) : undefined;
  }

  override async process(options: ProcessOptions) {
    return this.cache ? this.cache.process(this.subgraph, options as never, (o) => this.fetch(o as ProcessOptions)) : this.fetch(options);
  }

  /** One fetch from the subgraph, measured; a failure that is not a GraphQL answer becomes SERVICE_UNAVAILABLE. */
  private async fetch(options: ProcessOptions) {
    const end = fetchSeconds.startTimer({ subgraph: this.subgraph });
    try {
      const response = await this.send(options);
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

  /**
   * RemoteGraphQLDataSource's `process` + `sendRequest` (@apollo/gateway 2.14; APQ is never on
   * here) for our subgraphs, without its node-fetch plumbing: it builds a `Headers` object per call
   * (sorted copies when read), a `Request` for hooks that never read it, and hands the fetcher
   * headers from which the identity was decoded again to be signed (5-6 % of the gateway's CPU in
   * the benchmark's profile, docs/notes/gateway-bench.md). The same request: POST of `{query,
   * ...the rest but http}` with `content-type: application/json`, the incoming request's headers
   * (e.g. `apollo-federation-include-trace`), the caller's identity, client address and
   * Authorization, the active trace context, signed; the same answer: a non-2xx as
   * `errorFromResponse`, a body that is not a JSON object refused, the subgraph's Cache-Control
   * restricting the request's cache policy (`respond`).
   */
  private async send(options: ProcessOptions): Promise<GatewayGraphQLResponse> {
    const { request } = options;
    const context = 'context' in options ? options.context : undefined;
    const { query, http: incoming, ...rest } = request;
    const headers: Record<string, string> = {};
    if (incoming?.headers) {
      for (const [name, value] of incoming.headers) {
        const lower = name.toLowerCase();
        headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
      }
    }
    headers['content-type'] = 'application/json';
    const identity = context?.identity ?? null;
    const clientAddress = context?.clientAddress;
    if (context?.authorization) headers['authorization'] = context.authorization;
    // W3C trace context of the active span (the fetch span): the subgraph continues the trace.
    injectTraceContext(headers);
    if (!query) throw new Error('Missing query');
    const overallCachePolicy =
      this.honorSubgraphCacheControlHeader && 'incomingRequestContext' in options && options.incomingRequestContext.overallCachePolicy && 'restrict' in options.incomingRequestContext.overallCachePolicy
        ? options.incomingRequestContext.overallCachePolicy
        : null;
    const requestWithQuery = { query, ...rest };
    const body = JSON.stringify(requestWithQuery);
    const target = this.target ?? parsedUrl(this.url ?? '');
    Object.assign(headers, signedHeaders(this.subgraph, this.signing, target.path, 'POST', body, identity, clientAddress));
    const init = { method: 'POST', headers, body, ...(this.signing.timeoutMs ? { signal: AbortSignal.timeout(this.signing.timeoutMs) } : {}) };
    // What the hooks get for the request: its URL, method and headers (never read by ours).
    const described = { url: this.url, method: 'POST', headers } as never;
    let response: FetcherResponse | undefined;
    let answer: GatewayGraphQLResponse;
    try {
      response = await keepAliveFetcher(this.url ?? '', init);
      if (!response.ok) throw await this.errorFromResponse(response);
      const parsed: unknown = await this.parseBody(response, described, context as never);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`Expected JSON response body, but received: ${String(parsed)}`);
      answer = { ...(parsed as GatewayGraphQLResponse), http: response } as GatewayGraphQLResponse;
    } catch (error) {
      this.didEncounterError(error as Error, described, response as never, context as never, requestWithQuery as never);
      throw error;
    }
    // `respond` is private in @apollo/gateway's types.
    return (this as unknown as { respond(o: unknown): Promise<GatewayGraphQLResponse> }).respond({ response: answer, request: requestWithQuery, context: context as never, overallCachePolicy, pathInIncomingRequest: 'pathInIncomingRequest' in options ? options.pathInIncomingRequest : undefined });
  }
}
