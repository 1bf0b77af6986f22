import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import type { OperationSource, PersistedOperations } from './persisted-operations';
import { notListed } from './persisted-operations';
import { sendRequestError } from './rate-limit.plugin';

/**
 * Express middleware (after the JSON body parser) that turns a request naming a listed operation by
 * id alone (`extensions.persistedQuery.sha256Hash`, POST body or GET parameters) into a request
 * with its text, so Apollo Server parses, caches and runs it as any other; in require mode an id
 * the safelist does not know answers PERSISTED_QUERY_NOT_LISTED (400) at once. An id the safelist
 * does not know is left to automatic persisted queries in allow mode.
 */
export function resolvePersistedOperations(persisted: PersistedOperations) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (persisted.mode === 'off') return next();
    if (req.method === 'GET') {
      const url = new URL(req.url, 'http://gateway');
      const source = { query: url.searchParams.get('query') ?? undefined, extensions: parseJson(url.searchParams.get('extensions')) };
      const found = persisted.lookup(source, 'http');
      if (found === 'unknown-id') return sendRequestError(res, notListed());
      if (found) {
        url.searchParams.set('query', found.body);
        const extensions = withoutPersistedQuery(source.extensions);
        if (extensions) url.searchParams.set('extensions', JSON.stringify(extensions));
        else url.searchParams.delete('extensions');
        req.url = `${url.pathname}${url.search}`;
      }
      return next();
    }
    const body = req.body as (OperationSource & Record<string, unknown>) | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return next();
    const found = persisted.lookup(body, 'http');
    if (found === 'unknown-id') return sendRequestError(res, notListed());
    if (found) {
      const { extensions: sent, ...rest } = body;
      const extensions = withoutPersistedQuery(sent);
      req.body = { ...rest, query: found.body, ...(extensions ? { extensions } : {}) };
    }
    next();
  };
}

/** In require mode, refuses an operation that is not listed (by its query hash); counts safelisted and ad-hoc operations. */
export function admitPersistedOperations(persisted: PersistedOperations): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, queryHash }) {
          if (operation) persisted.admit(queryHash, operation, 'http');
        },
      };
    },
  };
}

function parseJson(text: string | null): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // Apollo Server answers a malformed parameter itself.
  }
}

/** The extensions without `persistedQuery` (undefined when nothing is left): the id has served its purpose. */
function withoutPersistedQuery(extensions: unknown): Record<string, unknown> | undefined {
  if (!extensions || typeof extensions !== 'object') return undefined;
  const { persistedQuery: _, ...rest } = extensions as Record<string, unknown>;
  return Object.keys(rest).length ? rest : undefined;
}
