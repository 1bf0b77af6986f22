/**
 * Cached whole answers over HTTP: how a stored answer is written (the bytes, headers and content
 * type Apollo Server and Express would send for it), and the lane that answers a repeated POST
 * before Express.
 *
 * The lane. Express's router, its body parsing, the platform's request-id and tracing
 * middleware and Apollo Server's HTTP integration cost a cached answer four times what writing it
 * does (docs/notes/gateway-cache.md, "The hit path before Express"). So the HTTP server's request
 * listener looks at a request first: a `POST /graphql` whose JSON body has exactly the bytes of
 * one that was answered from the cache before (learned by the Express handler of cached answers,
 * {@link CachedAnswerLane.learn}) is answered here, after the same checks in the same order as
 * there: the caller's token (a refused one goes on to Express and Apollo Server, which refuse it
 * as they always do), the `requests` budget (charged here once; a refusal goes on to Express,
 * which answers it with that verdict, rate-limit.plugin.ts), then the freshness of the stored
 * answer at that moment (outdated: on to Express, already charged). Everything else goes to
 * Express untouched: a request whose length is not one of a learned body's is not even read here;
 * one that is read and turns out not to be a cached answer is handed over with its body pushed
 * back into the request stream (`unshift`), so Express's body parser reads it as it came.
 *
 * What a lane answer keeps from the Express path: the status, body and headers of the answer
 * (content type as Apollo Server negotiates it, `cache-control`, the weak ETag Express's
 * `res.send` makes, `content-length`, `x-request-id`, the `RateLimit-*` headers), the request's
 * `http_requests_total` and `http_request_duration_seconds` (servedRequestMetrics) and the cache's
 * hit count. While this process traces (a server span per request) or logs at debug level (an
 * access line per request), the lane steps aside and Express answers, with its span and line.
 */
import type http from 'node:http';
import etag from 'etag';
import Negotiator from 'negotiator';
import type { Identity, Logger } from '@shop/platform';
import { counter, REQUEST_ID_HEADER, requestIdFrom, servedRequestMetrics, tracingActive } from '@shop/platform';
import type { Verdict } from '../rate-limits';
import { rateLimitHeaders } from '../rate-limits';
import type { EntityCache, StoredResponse } from './entity-cache';

const answers = counter({
  name: 'gateway_cache_answers_total',
  help: 'Whole answers served from the cache, by the way they took: lane (before Express, known by the bytes of the request body), express (the handler ahead of Apollo Server), apollo (Apollo Server plugin: GET, or what the handler did not take).',
  labelNames: ['way'],
});
/** Counts a whole answer served from the cache (the counter's children, bound once). */
export const countAnswer = { lane: answers.labels({ way: 'lane' }), express: answers.labels({ way: 'express' }), apollo: answers.labels({ way: 'apollo' }) };

/** The single-result media types of Apollo Server (its MEDIA_TYPES), in its order of preference. */
const APPLICATION_JSON = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
const JSON_GRAPHQL_CALLBACK = 'application/json; callbackSpec=1.0; charset=utf-8';
/** How many distinct Accept headers keep their negotiated type (then the memory starts again). */
const ACCEPT_MEMO = 100;
const answerTypes = new Map<string, string | null>();

/**
 * The content type Apollo Server gives a single result for this Accept header (its
 * `chooseContentTypeForSingleResultResponse`, negotiated once per distinct header), when it is JSON
 * or GraphQL-response JSON; null when a cached answer must not be written for it (Apollo Server
 * answers 406, or another type).
 */
export function answerType(accept: string | undefined): string | null {
  if (!accept) return APPLICATION_JSON;
  let type = answerTypes.get(accept);
  if (type === undefined) {
    const preferred = new Negotiator({ headers: { accept } }).mediaType([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, JSON_GRAPHQL_CALLBACK]);
    type = preferred === APPLICATION_JSON || preferred === GRAPHQL_RESPONSE_JSON ? preferred : null;
    if (answerTypes.size >= ACCEPT_MEMO) answerTypes.clear();
    answerTypes.set(accept, type);
  }
  return type;
}

/** A stored answer ready to write: its bytes and its fixed headers, made once per stored answer. */
interface Prepared {
  readonly body: Buffer;
  /** `cache-control` (when Apollo Server sent one), `etag`, `content-length`, as a flat name/value list. */
  readonly headers: readonly string[];
}

const prepared = new WeakMap<StoredResponse, Prepared>();

function prepare(hit: StoredResponse): Prepared {
  let ready = prepared.get(hit);
  if (!ready) {
    const body = Buffer.from(hit.body, 'utf8');
    // The ETag Express's res.send gives the same body on the full pipeline (weak, its default).
    const headers = ['etag', etag(body, { weak: true }), 'content-length', String(body.length)];
    if (hit.cacheControl) headers.push('cache-control', hit.cacheControl);
    ready = { body, headers };
    prepared.set(hit, ready);
  }
  return ready;
}

/** Writes a cached answer: 200, `contentType` (see {@link answerType}), its fixed headers, then `extra` (a flat name/value list), in one `end`. */
export function writeCachedAnswer(res: http.ServerResponse, hit: StoredResponse, contentType: string, extra: readonly string[] = []): void {
  const { body, headers } = prepare(hit);
  res.writeHead(200, ['content-type', contentType, ...headers, ...extra]);
  res.end(body);
}

/** The Content-Type spellings of JSON the lane takes (anything else goes to Express's body parsing). */
const JSON_CONTENT_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset=UTF-8']);
/** graphql-sse's stream token header (subscriptions/sse.ts answers a request carrying it). */
const SSE_TOKEN_HEADER = 'x-graphql-event-stream-token';
/** Longest body the lane learns. */
const MAX_LEARNED_BODY_BYTES = 16 * 1024;
/** How many distinct bodies it knows (the oldest learned is forgotten first). */
const MAX_LEARNED_BODIES = 1_000;

export interface CachedAnswerLaneOptions {
  readonly cache: EntityCache;
  /** The caller's identity (the gateway's one verification per request); rejects for a refused token. */
  readonly identify: (req: http.IncomingMessage) => Promise<Identity | null>;
  /** Takes the request's point of `requests` and remembers it for rateLimitRequests (rate-limit.plugin.ts chargeRequest). */
  readonly charge: (req: http.IncomingMessage) => Promise<Verdict | null>;
  readonly logger: Logger;
  /** The `service` label of the HTTP metrics. Default `gateway`. */
  readonly service?: string;
}

/** The lane of cached answers ahead of Express (see the top of this file). */
export class CachedAnswerLane {
  /** Raw bodies (as latin1 text: one character per byte) that were answered from the cache, with their answer's key. */
  private readonly bodies = new Map<string, string>();
  /** How many learned bodies have each length: a request of another length is not read here. */
  private readonly lengths = new Map<number, number>();
  /** The raw body of each request Express parsed, while it is handled (graphqlBody's onBody). */
  private readonly rawBodies = new WeakMap<http.IncomingMessage, Buffer>();
  private readonly served: (status: number, seconds: number) => void;

  constructor(private readonly options: CachedAnswerLaneOptions) {
    this.served = servedRequestMetrics(options.service ?? 'gateway');
  }

  /** For graphqlBody's `onBody`: keeps the raw bytes of a parsed body, so that {@link learn} can learn them. */
  readonly keepBody = (req: http.IncomingMessage, body: Buffer): void => {
    if (body.length <= MAX_LEARNED_BODY_BYTES) this.rawBodies.set(req, body);
  };

  /** Learns the raw body of a request Express answered from the cache with the answer of `key`: the next one with these bytes is the lane's. */
  learn(req: http.IncomingMessage, key: string): void {
    const raw = this.rawBodies.get(req);
    if (!raw) return;
    const text = raw.toString('latin1');
    if (this.bodies.has(text)) return;
    if (this.bodies.size >= MAX_LEARNED_BODIES) {
      const oldest = this.bodies.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    this.bodies.set(text, key);
    this.lengths.set(raw.length, (this.lengths.get(raw.length) ?? 0) + 1);
  }

  /** The HTTP server's request listener: answers what it can, hands everything else to `next` (the Express app). */
  listener(next: http.RequestListener): http.RequestListener {
    return (req, res) => {
      const length = this.candidateLength(req);
      if (length === undefined) return void next(req, res);
      this.read(req, res, next, length);
    };
  }

  /** The body length of a request the lane may answer, judged by its head alone; undefined for any other request. */
  private candidateLength(req: http.IncomingMessage): number | undefined {
    if (req.method !== 'POST' || req.url !== '/graphql' || !this.options.cache.serving) return undefined;
    const { headers } = req;
    const declared = headers['content-length'];
    if (declared === undefined || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return undefined;
    const length = Number(declared);
    if (!this.lengths.has(length)) return undefined;
    const type = headers['content-type'];
    if (type === undefined || !JSON_CONTENT_TYPES.has(type) || headers[SSE_TOKEN_HEADER] !== undefined) return undefined;
    if (headers.accept?.includes('multipart/') || answerType(headers.accept) === null) return undefined;
    if (tracingActive() || this.options.logger.isLevelEnabled('debug')) return undefined;
    return length;
  }

  private read(req: http.IncomingMessage, res: http.ServerResponse, next: http.RequestListener, length: number): void {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size < length) return;
      req.off('data', onData);
      req.off('error', onError);
      // Paused with the whole body read: the stream's end stays unreported, so the body can still
      // be pushed back for Express.
      req.pause();
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      this.answer(req, res, next, body, started).catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'cached answer failed');
        if (!res.headersSent) this.handOver(req, res, next, body);
      });
    };
    // The client went away mid-body: nothing to answer (Express's body parser would answer a
    // socket that is gone).
    const onError = (): void => void req.off('data', onData);
    req.on('data', onData);
    req.once('error', onError);
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse, next: http.RequestListener, body: Buffer, started: number): Promise<void> {
    const key = this.bodies.get(body.toString('latin1'));
    if (key === undefined) return this.handOver(req, res, next, body);
    const { cache, identify, charge } = this.options;
    // A refused token goes on uncharged: Express charges it as anonymous and Apollo Server refuses it.
    const valid = await identify(req).then(
      () => true,
      () => false,
    );
    if (!valid) return this.handOver(req, res, next, body);
    const verdict = await charge(req);
    if (verdict && !verdict.allowed) return this.handOver(req, res, next, body);
    // Fresh now, after every wait: an invalidation delivered meanwhile is seen.
    const now = Date.now();
    const local = cache.readResponseNow(key, now);
    const hit = local === null ? await cache.readResponse(key, now) : local;
    const type = answerType(req.headers.accept);
    if (!hit || type === null) return this.handOver(req, res, next, body);
    const extra = [REQUEST_ID_HEADER, requestIdFrom(req.headers, true)];
    if (verdict) for (const [name, value] of Object.entries(rateLimitHeaders(verdict))) extra.push(name, value);
    writeCachedAnswer(res, hit, type, extra);
    countAnswer.lane.inc();
    this.served(200, (performance.now() - started) / 1000);
  }

  /** Gives the request to Express as it came: its body pushed back, the stream resumed once Express reads it. */
  private handOver(req: http.IncomingMessage, res: http.ServerResponse, next: http.RequestListener, body: Buffer): void {
    req.unshift(body);
    const resume = (event: string | symbol): void => {
      if (event !== 'data') return;
      req.off('newListener', resume);
      // After the listener is added (newListener comes first).
      process.nextTick(() => req.resume());
    };
    req.on('newListener', resume);
    next(req, res);
  }

  private forget(text: string): void {
    this.bodies.delete(text);
    const length = Buffer.byteLength(text, 'latin1');
    const count = (this.lengths.get(length) ?? 1) - 1;
    if (count > 0) this.lengths.set(length, count);
    else this.lengths.delete(length);
  }
}
