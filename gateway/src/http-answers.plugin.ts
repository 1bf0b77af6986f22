import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { Logger, QueryLimits } from '@shop/platform';
import { maskError, PUBLIC_ERRORS, publicError, withLimitCode } from '@shop/platform';

/** How to subscribe, for a client that sent a subscription where none is served. */
export const HOW_TO_SUBSCRIBE =
  'Subscriptions are served on /graphql over WebSocket (graphql-transport-ws), over SSE (Accept: text/event-stream, the graphql-sse protocol) and over multipart HTTP (Accept: multipart/mixed; subscriptionSpec="1.0"); a plain POST serves queries and mutations only.';

/**
 * The gateway's `formatError`, for every error that leaves it (HTTP and subscriptions): limit
 * refusals carry the code of their limit, anything outside the public registry is masked, and no
 * stack trace or server path goes out. Subgraphs in development mode send
 * `extensions.stacktrace` (and Apollo's `exception`); they are logged here, at debug, and dropped.
 */
export function formatForClient(limits: QueryLimits, logger: Logger): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const masked = maskError(withLimitCode(formatted, error, limits), error, logger);
    if (!masked.extensions) return masked;
    const { stacktrace, exception, ...extensions } = masked.extensions as Record<string, unknown>;
    if (stacktrace === undefined && exception === undefined) return masked;
    logger.debug({ code: extensions['code'], path: masked.path, stacktrace, exception }, 'stack trace of an error sent to a client (not sent)');
    return { ...masked, extensions };
  };
}

/**
 * A subscription over a plain POST (no SSE or multipart Accept header) is refused with 400
 * BAD_REQUEST saying how to subscribe, before @apollo/gateway would fail it with a 500.
 */
export function refuseSubscriptionsOverPlainHttp(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') throw publicError('BAD_REQUEST', HOW_TO_SUBSCRIBE, { requestLevel: true });
        },
      };
    },
  };
}

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
