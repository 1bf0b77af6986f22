import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { isClientErrorCode } from '../errors';
import { boundedLabel, counter, histogram } from '../metrics';

/**
 * How an operation ended: `ok` (no error), `client_error` (every error has a client error code of
 * the registry: bad input, not signed in, not found…, the client's fault) or `server_error` (at
 * least one error the client could not have avoided: an internal error, a service unavailable). Error
 * rate alerts use `server_error` only, like 5xx versus 4xx.
 */
export function operationOutcome(codes: readonly string[]): 'ok' | 'client_error' | 'server_error' {
  if (codes.length === 0) return 'ok';
  return codes.every(isClientErrorCode) ? 'client_error' : 'server_error';
}

/**
 * GraphQL operation metrics: count by service, type, (bounded) name and outcome; duration by
 * service and type; errors by code.
 */
export function useGraphqlMetrics(service: string): ApolloServerPlugin<BaseContext> {
  const operations = counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations executed, by service, operation type, name (names beyond a cap fold into "other") and outcome (ok, client_error, server_error).',
    labelNames: ['service', 'type', 'name', 'outcome'],
  });
  const duration = histogram({ name: 'graphql_operation_duration_seconds', help: 'GraphQL operation duration in seconds.', labelNames: ['service', 'type'] });
  const errors = counter({ name: 'graphql_errors_total', help: 'GraphQL errors returned, by service and error code.', labelNames: ['service', 'code'] });
  const label = boundedLabel(100);
  // Zero series from the start, so that the error-rate alert's increase() sees the first failure.
  for (const type of ['query', 'mutation']) for (const outcome of ['ok', 'client_error', 'server_error']) operations.inc({ service, type, name: 'anonymous', outcome }, 0);
  errors.inc({ service, code: 'INTERNAL_SERVER_ERROR' }, 0);
  return {
    async requestDidStart() {
      const end = duration.startTimer({ service });
      return {
        async willSendResponse(ctx) {
          const type = ctx.operation?.operation ?? 'unknown';
          const codes = (ctx.errors ?? []).map((e) => String(e.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR'));
          operations.inc({ service, type, name: label(ctx.operationName), outcome: operationOutcome(codes) });
          end({ type });
          for (const code of codes) errors.inc({ service, code });
        },
      };
    },
  };
}
