import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { PUBLIC_ERRORS, publicError } from '@shop/platform';

/**
 * A document with several operations and no operationName that picks one is the client's mistake:
 * OPERATION_RESOLUTION_FAILURE (400), before @apollo/gateway would fail on it with an uncoded error.
 */
export function requireResolvedOperation(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          if (operation) return;
          const message = request.operationName ? `Unknown operation named "${request.operationName.slice(0, 60)}".` : 'The document has several operations: give an operationName.';
          throw publicError('OPERATION_RESOLUTION_FAILURE', message, { requestLevel: true });
        },
      };
    },
  };
}

/**
 * An operation that failed as a whole because a service it needs is down (no data, and every error
 * SERVICE_UNAVAILABLE) answers HTTP 503, so HTTP clients, proxies and load balancers see "retry
 * later"; partial results stay 200, as GraphQL over HTTP has it.
 */
export function answerUnavailableAs503(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          if (data != null || !errors?.length) return;
          if (errors.every((e) => e.extensions?.['code'] === 'SERVICE_UNAVAILABLE')) response.http.status = PUBLIC_ERRORS.SERVICE_UNAVAILABLE.httpStatus;
        },
      };
    },
  };
}
