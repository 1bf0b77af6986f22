import { GraphQLError } from 'graphql';
import { counter, histogram } from '@shop/platform';

/**
 * The catalog's business metrics. Names carry the service (one registry per process, shared when
 * the subgraphs run together); labels are bounded enums only.
 */

/** Time to answer `products(...)`: spelling correction and the page query (totalCount is counted apart, only when asked). */
export const searchDuration = histogram<'kind' | 'sort'>({
  name: 'catalog_search_duration_seconds',
  help: 'Time to answer a products query, by kind (search: with search text; browse: filters only) and effective sort.',
  labelNames: ['kind', 'sort'],
});

/** Products on the returned page; a first page with 0 is a search that found nothing. */
export const searchResults = histogram<'kind'>({
  name: 'catalog_search_results',
  help: 'Products returned on a page of a products query, by kind (search or browse).',
  labelNames: ['kind'],
  buckets: [0, 1, 2, 5, 10, 20, 50, 100],
});

/** Failed catalog operations by operation and error code (BAD_USER_INPUT, NOT_FOUND, INTERNAL…). */
export const queryErrors = counter<'operation' | 'code'>({
  name: 'catalog_query_errors_total',
  help: 'Catalog queries and mutations that failed, by operation and error code.',
  labelNames: ['operation', 'code'],
});

/** Runs a root resolver, counting its failure in catalog_query_errors_total. */
export async function tracked<T>(operation: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = error instanceof GraphQLError ? String(error.extensions['code'] ?? 'INTERNAL') : 'INTERNAL';
    queryErrors.inc({ operation, code });
    throw error;
  }
}
