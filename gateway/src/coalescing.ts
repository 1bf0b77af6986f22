/**
 * Request coalescing: identical concurrent anonymous queries share one execution of their query
 * plan, and every caller gets the same answer.
 *
 * Wraps @apollo/gateway's executor (the GatewayInterface Apollo Server calls after parsing,
 * validation and every plugin's `didResolveOperation`: query limits, the safelist and the rate
 * budgets still run, and charge, per request). Two requests share an execution only when
 *   - the operation is a query (never a mutation or a subscription),
 *   - neither carries anything that identifies someone: no verified identity, no `Authorization`,
 *     no `Cookie` header (a subgraph could read either),
 *   - the document text, the operation name and the variables are the same (variables compared as
 *     their JSON text with keys sorted),
 * and the first is still in flight when the second arrives: nothing is kept after it answers (that
 * is the entity cache's job, gateway/src/cache/). The client address is not part of the key: it is
 * signed to subgraphs for their rate limits only, never for an answer.
 *
 * Each caller gets its own result object (the same data, read-only from here on: Apollo Server
 * only serializes it), so a plugin that adds to one answer's `extensions` does not touch another's.
 */
import type { GatewayExecutionResult, GatewayExecutor, GatewayGraphQLRequestContext, GatewayInterface } from '@apollo/server-gateway-interface';
import { counter } from '@shop/platform';
import { stableJson } from './stable-json';
import type { GatewayContext } from './subgraph-data-source';

export interface CoalescingSettings {
  /** Off: every request executes on its own. Default true. */
  readonly enabled?: boolean;
}

const metrics = {
  coalesced: counter({
    name: 'gateway_coalesced_requests_total',
    help: 'Anonymous queries answered by another identical in-flight execution instead of their own (request coalescing).',
  }),
};

/** The key two requests share an execution under, or undefined when this one must execute alone. */
export function coalescingKey(requestContext: GatewayGraphQLRequestContext): string | undefined {
  if (requestContext.operation.operation !== 'query') return undefined;
  const context = requestContext.context as Partial<GatewayContext>;
  if (context.identity || context.authorization) return undefined;
  const headers = requestContext.request.http?.headers;
  if (headers?.get('authorization') || headers?.get('cookie')) return undefined;
  const source = requestContext.source;
  const variables = requestContext.request.variables;
  return `${requestContext.request.operationName ?? ''}\u0000${variables && Object.keys(variables).length ? stableJson(variables) : ''}\u0000${source}`;
}

/** An executor that runs identical concurrent anonymous queries once (see the module comment). */
export function coalescingExecutor(execute: GatewayExecutor): GatewayExecutor {
  const inFlight = new Map<string, Promise<GatewayExecutionResult>>();
  return (requestContext) => {
    const key = coalescingKey(requestContext);
    if (key === undefined) return execute(requestContext);
    const running = inFlight.get(key);
    if (running) {
      metrics.coalesced.inc();
      return running.then(copyResult);
    }
    const execution = execute(requestContext).finally(() => inFlight.delete(key));
    inFlight.set(key, execution);
    return execution.then(copyResult);
  };
}

/**
 * The gateway as Apollo Server sees it, with the executor coalescing (or `gateway` itself when
 * coalescing is off). Schema updates and stop go to `gateway`.
 */
export function coalescingGateway(gateway: GatewayInterface, settings: CoalescingSettings = {}): GatewayInterface {
  if (settings.enabled === false) return gateway;
  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    load: async (options) => {
      const { executor } = await gateway.load(options);
      return { executor: executor ? coalescingExecutor(executor) : null };
    },
    stop: () => gateway.stop(),
  };
}

function copyResult(result: GatewayExecutionResult): GatewayExecutionResult {
  return { ...result, ...(result.extensions ? { extensions: { ...result.extensions } } : {}) };
}

