/**
 * Whole answers of public operations, from the entity cache's store: an operation whose every
 * field is public by the cache hints (the storefront's browsing: lists, products, stock, ratings)
 * is answered without planning, fetching or shaping when an answer of it is fresh, for any caller
 * (public data is the same for everyone; anything bound to a user makes the operation
 * uncacheable here, and its public parts are still cached per entity by entity-cache.ts).
 *
 * Fresh: younger than the smallest hint it touches, and fetched after the last mark of every tag
 * of the fetches that built it (the entities it holds, the lists it shows: entity-cache.ts), so an
 * event outdates exactly the whole answers that hold its entity. Only complete answers are kept:
 * none with errors or stale parts.
 *
 * Three ways in: the lane ahead of Express (response-cache-http.ts), which answers a POST whose
 * body has the bytes of one answered from the cache before; {@link answerCachedResponses}, an
 * Express handler ahead of Apollo Server that answers a POSTed operation from its stored JSON text
 * (no parsing, validation, planning or printing) and teaches the lane its body; and the plugin,
 * which answers what the handler could not (GET, a first hit) and stores the answers.
 */
import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { Request, RequestHandler } from 'express';
import type { EntityCache, StoredResponse } from './entity-cache';
import type { CachedAnswerLane } from './response-cache-http';
import { answerType, countAnswer, writeCachedAnswer } from './response-cache-http';

/** The Apollo Server plugin; does nothing while the cache does not serve fresh answers. */
export function cacheResponses(cache: EntityCache): ApolloServerPlugin {
  return {
    requestDidStart: async () => {
      let pending: { key: string; fetchedAt: number; maxAgeMs: number } | undefined;
      return {
        responseForOperation: async (rc) => {
          if (!cache.serving || rc.operation.operation !== 'query') return null;
          const maxAgeMs = cache.operationMaxAgeMs(rc.document, rc.schema);
          if (maxAgeMs === null) return null;
          const key = cache.responseKey(rc.queryHash ?? '', rc.request.operationName ?? null, rc.request.variables ?? {});
          const fetchedAt = Date.now();
          const hit = await cache.readResponse(key, fetchedAt);
          if (hit) {
            countAnswer.apollo.inc();
            return { http: { headers: new HeaderMap(), status: undefined }, body: { kind: 'single', singleResult: JSON.parse(hit.body) as Record<string, unknown> } };
          }
          pending = { key, fetchedAt, maxAgeMs };
          return null;
        },
        willSendResponse: async (rc) => {
          if (!pending || rc.response.body.kind !== 'single') return;
          const { data, errors, extensions } = rc.response.body.singleResult;
          // The body Apollo Server sends for `{ data }` (its JSON text and a newline).
          if (!data || errors?.length || extensions?.['stale']) return;
          // Apollo Server's cache-control plugin sets its header in its own willSendResponse, which
          // runs after this one's first await: read it once every plugin has had its turn.
          await new Promise((resolve) => setImmediate(resolve));
          const cacheControl = rc.response.http.headers.get('cache-control');
          await cache.storeResponse(pending.key, rc.contextValue as object, { body: `${JSON.stringify({ data })}\n`, maxAgeMs: pending.maxAgeMs, cacheControl }, pending.fetchedAt);
        },
      };
    },
  };
}

/**
 * The fast path of whole answers in Express: a POST of `{ query, operationName?, variables? }`
 * whose fresh answer is stored is answered here with the stored JSON text, after the HTTP rate
 * budget and the caller's token verification (`identify`: a refused token goes on to Apollo
 * Server, which answers the refusal) and before Apollo Server. A stored answer exists only for an
 * operation that went once through the whole pipeline (query limits, safelist, hints), and its key
 * is the exact operation text, so what is answered here is what the pipeline admitted. A hit is
 * charged the `requests` budget, not the `cost` one (it costs no subgraph anything). The body of
 * each request answered here is learned by `lane`, which answers the same bytes again before
 * Express (response-cache-http.ts).
 */
export function answerCachedResponses(cache: EntityCache, identify: (req: Request) => Promise<unknown>, lane?: CachedAnswerLane): RequestHandler {
  return (req, res, next) => {
    if (!cache.serving || req.method !== 'POST') return next();
    const body = req.body as { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown } | undefined;
    if (!body || typeof body.query !== 'string' || body.extensions !== undefined || !req.is('application/json')) return next();
    // Apollo Server answers other Accept headers with another type, or refuses them (406).
    const type = answerType(req.headers.accept);
    if (type === null) return next();
    const operationName = typeof body.operationName === 'string' ? body.operationName : null;
    const variables = body.variables === undefined || body.variables === null ? {} : body.variables;
    if (typeof variables !== 'object' || Array.isArray(variables)) return next();
    const key = cache.responseKey(createHash('sha256').update(body.query).digest('hex'), operationName, variables as Record<string, unknown>);
    const now = Date.now();
    const send = (hit: StoredResponse | undefined): void => {
      if (!hit) return next();
      identify(req).then(
        () => {
          writeCachedAnswer(res, hit, type);
          countAnswer.express.inc();
          lane?.learn(req, key);
        },
        () => next(),
      );
    };
    const local = cache.readResponseNow(key, now);
    if (local !== null) return send(local);
    cache.readResponse(key, now).then(send, () => next());
  };
}
