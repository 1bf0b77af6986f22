/**
 * Whole answers of public operations, from the entity cache's store: an operation whose every
 * field is public by the cache hints (the storefront's browsing: lists, products, stock, ratings)
 * is answered without planning, fetching or shaping when an answer of it is fresh, for any caller
 * (public data is the same for everyone; anything bound to a user makes the operation
 * uncacheable here, and its public parts are still cached per entity by entity-cache.ts).
 *
 * Fresh: younger than the smallest hint it touches, and fetched after the last event or mutation
 * any gateway sharing the store marked (`EntityCache.invalidate` marks the `responses` tag every
 * time): coarser than per entity, which is what keeps a hit this cheap. Only complete answers are
 * kept: none with errors or stale parts.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { EntityCache } from './entity-cache';

/** The Apollo Server plugin; does nothing while the cache does not serve fresh answers. */
export function cacheResponses(cache: EntityCache): ApolloServerPlugin {
  return {
    requestDidStart: async () => {
      let pending: { key: string; fetchedAt: number } | undefined;
      return {
        responseForOperation: async (rc) => {
          if (!cache.serving || rc.operation.operation !== 'query') return null;
          const maxAgeMs = cache.operationMaxAgeMs(rc.document, rc.schema);
          if (maxAgeMs === null) return null;
          const key = cache.responseKey(rc.queryHash ?? rc.source ?? '', rc.operationName ?? null, rc.request.variables ?? {});
          const fetchedAt = Date.now();
          const hit = await cache.readResponse(key, maxAgeMs, fetchedAt);
          if (hit) return { http: { headers: new HeaderMap(), status: undefined }, body: { kind: 'single', singleResult: hit } };
          pending = { key, fetchedAt };
          return null;
        },
        willSendResponse: async (rc) => {
          if (!pending || rc.response.body.kind !== 'single') return;
          const { data, errors, extensions } = rc.response.body.singleResult;
          if (data && !errors?.length && !extensions?.['stale']) await cache.storeResponse(pending.key, { data }, pending.fetchedAt);
        },
      };
    },
  };
}
