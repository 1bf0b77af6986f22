import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { PUBLIC_ERRORS } from '@shop/platform';

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
