import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { boundedLabel, counter, histogram } from '../metrics';

/** GraphQL operation metrics: count and duration by service, type and (bounded) name; errors by code. */
export function useGraphqlMetrics(service: string): ApolloServerPlugin<BaseContext> {
  const operations = counter({ name: 'graphql_operations_total', help: 'GraphQL operations executed, by service, operation type and name (names beyond a cap fold into "other").', labelNames: ['service', 'type', 'name'] });
  const duration = histogram({ name: 'graphql_operation_duration_seconds', help: 'GraphQL operation duration in seconds.', labelNames: ['service', 'type'] });
  const errors = counter({ name: 'graphql_errors_total', help: 'GraphQL errors returned, by service and error code.', labelNames: ['service', 'code'] });
  const label = boundedLabel(100);
  return {
    async requestDidStart() {
      const end = duration.startTimer({ service });
      return {
        async willSendResponse(ctx) {
          const type = ctx.operation?.operation ?? 'unknown';
          operations.inc({ service, type, name: label(ctx.operationName) });
          end({ type });
          for (const e of ctx.errors ?? []) errors.inc({ service, code: String(e.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR') });
        },
      };
    },
  };
}
