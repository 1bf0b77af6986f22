/**
 * Plans and executes federated subscriptions with @apollo/gateway's own query planner and executor.
 *
 * The planner already plans subscriptions: a `Subscription` node whose `primary` is a fetch on the
 * subgraph owning the root field and whose `rest` fetches every other field (entities on the other
 * subgraphs). Stock `executeQueryPlan` refuses that node; we execute it ourselves:
 * - `primary` becomes a graphql-ws subscription on the owning subgraph (upstream.ts);
 * - for each event we run, with the stock executor, the plan `Sequence[primary, rest]` in which the
 *   primary fetch is answered by the event instead of the network. Rewrites, entity batching (one
 *   `_entities` call per subgraph and plan step), error paths and result shaping are therefore
 *   exactly those of queries.
 *
 * @apollo/gateway keeps its planner and schemas in private fields; `gatewayInternals` reads them in
 * one place (tests/subscriptions.plan.test.ts pins the shape, so an upgrade that moves them fails there).
 */
import type { ApolloGateway, GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { buildOperationContext, executeQueryPlan } from '@apollo/gateway';
import type { Schema } from '@apollo/federation-internals';
import { operationFromDocument } from '@apollo/federation-internals';
import type { FetchNode, PlanNode, QueryPlan, QueryPlanner, SubscriptionNode } from '@apollo/query-planner';
import type { DocumentNode, ExecutionResult, FormattedExecutionResult, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { Kind, parse, print } from 'graphql';
import type { Identity, Logger } from '@shop/platform';
import { publicError } from '@shop/platform';
import type { GatewayContext } from '../subgraph-data-source';

/** What this module needs of a loaded ApolloGateway (private fields of @apollo/gateway 2.x). */
export interface GatewayInternals {
  /** The API schema clients validate against. */
  readonly schema: GraphQLSchema;
  readonly apiSchema: Schema;
  readonly supergraphSchema: GraphQLSchema;
  readonly queryPlanner: QueryPlanner;
  /** Subgraph name -> its data source (our SubgraphDataSource, whose `url` is the resolved URL). */
  readonly serviceMap: Readonly<Record<string, { readonly dataSource: GraphQLDataSource & { readonly url?: string } }>>;
}

/** Reads the gateway's loaded planner and schemas; throws when the gateway has not loaded a supergraph yet. */
export function gatewayInternals(gateway: ApolloGateway): GatewayInternals {
  const g = gateway as unknown as Partial<GatewayInternals>;
  if (!g.schema || !g.apiSchema || !g.supergraphSchema || !g.queryPlanner || !g.serviceMap) {
    throw new Error('The gateway has not loaded a supergraph yet (or @apollo/gateway changed its internals).');
  }
  return g as GatewayInternals;
}

/** A planned client subscription. */
export interface SubscriptionPlan {
  /** The subgraph that owns the root field. */
  readonly subgraph: string;
  /** The root field (metrics label; bounded by the schema). */
  readonly rootField: string;
  readonly primary: FetchNode;
  readonly rest: PlanNode | undefined;
  /**
   * The primary operation as sent upstream: the planner's text without its operation name (which
   * derives from the client's), so clients naming their operations differently still share.
   */
  readonly upstreamQuery: string;
  readonly operation: OperationDefinitionNode;
  readonly operationContext: ReturnType<typeof buildOperationContext>;
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  /** The stock executor's plan for one event: the primary fetch (answered by the event), then the rest. */
  readonly eventPlan: QueryPlan;
  readonly internals: GatewayInternals;
}

/** Plans per planner instance (a new supergraph brings a new planner and drops the old plans). */
const planCaches = new WeakMap<QueryPlanner, Map<string, SubscriptionPlan>>();
/** Plans kept per supergraph; least recently used are evicted. Default 500. */
export const PLAN_CACHE_SIZE = 500;

/**
 * Plans one (already parsed and validated) subscription operation. `cacheKey` identifies the
 * document text and operation name (the client's query string is enough).
 */
export function planSubscription(gateway: ApolloGateway, document: DocumentNode, operationName: string | undefined, cacheKey: string): SubscriptionPlan {
  const internals = gatewayInternals(gateway);
  let cache = planCaches.get(internals.queryPlanner);
  if (!cache) {
    cache = new Map();
    planCaches.set(internals.queryPlanner, cache);
  }
  const cached = cache.get(cacheKey);
  if (cached) {
    cache.delete(cacheKey); // re-insert: most recently used last
    cache.set(cacheKey, cached);
    return cached;
  }
  const operation = operationFromDocument(internals.apiSchema, document, operationName ? { operationName } : {});
  const queryPlan = internals.queryPlanner.buildQueryPlan(operation);
  const node = queryPlan.node;
  if (node?.kind !== 'Subscription') throw new Error(`Expected a subscription plan, got ${node?.kind ?? 'an empty plan'}`);
  const { primary, rest } = node as SubscriptionNode;
  const operationContext = buildOperationContext({ schema: internals.schema, operationDocument: document, ...(operationName ? { operationName } : {}) });
  const firstField = operationContext.operation.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
  const plan: SubscriptionPlan = {
    subgraph: primary.serviceName,
    rootField: firstField?.kind === Kind.FIELD ? firstField.name.value : 'unknown',
    primary,
    rest,
    upstreamQuery: withoutOperationName(primary.operation),
    operation: operationContext.operation,
    operationContext,
    document,
    operationName,
    eventPlan: { kind: 'QueryPlan', node: rest ? { kind: 'Sequence', nodes: [primary, rest] } : primary },
    internals,
  };
  cache.set(cacheKey, plan);
  if (cache.size > PLAN_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return plan;
}

function withoutOperationName(operation: string): string {
  const doc = parse(operation);
  return print({
    ...doc,
    definitions: doc.definitions.map((d) => (d.kind === Kind.OPERATION_DEFINITION ? { ...d, name: undefined } : d)),
  });
}

/** The variables of the client's operation that the primary fetch uses (the upstream subscription's variables). */
export function primaryVariables(plan: SubscriptionPlan, variables: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of plan.primary.variableUsages ?? []) if (variables[name] !== undefined) picked[name] = variables[name];
  return picked;
}

/**
 * Executes the rest of the plan for one primary event and shapes the complete result. Fetch
 * failures (a subgraph down, a GraphQL error there) give a partial result with errors, exactly as
 * for a query; they never throw.
 */
export async function executeEvent(
  plan: SubscriptionPlan,
  event: FormattedExecutionResult,
  request: { readonly query: string; readonly variables: Record<string, unknown>; readonly identity: Identity | null; readonly logger: Logger },
): Promise<ExecutionResult> {
  const { internals, primary } = plan;
  const serviceMap: Record<string, GraphQLDataSource> = {};
  for (const [name, { dataSource }] of Object.entries(internals.serviceMap)) serviceMap[name] = dataSource;
  const owner = serviceMap[primary.serviceName];
  let answered = false;
  serviceMap[primary.serviceName] = {
    // The first fetch of the plan is the primary: answer it with the event. Any later fetch on the
    // same subgraph (an entity fetch in `rest`) goes to the real data source.
    process: async (options: GraphQLDataSourceProcessOptions) => {
      if (!answered && options.request.query === primary.operation) {
        answered = true;
        // A fresh copy: the executor merges the rest of the plan into it, and the event is shared.
        const data = event.data === undefined || event.data === null ? event.data : structuredClone(event.data);
        return { ...(data !== undefined ? { data } : {}), ...(event.errors ? { errors: [...event.errors] } : {}) };
      }
      if (!owner) throw new Error(`No data source for subgraph ${primary.serviceName}`);
      return owner.process(options);
    },
  };
  const context: GatewayContext = { identity: request.identity };
  const requestContext = {
    request: { query: request.query, variables: request.variables, ...(plan.operationName ? { operationName: plan.operationName } : {}) },
    document: plan.document,
    operationName: plan.operationName ?? null,
    operation: plan.operation,
    context,
    logger: request.logger,
    metrics: {},
    cache: undefined,
    overallCachePolicy: undefined,
  } as unknown as Parameters<typeof executeQueryPlan>[2];
  try {
    const result = await executeQueryPlan(plan.eventPlan, serviceMap, requestContext, plan.operationContext, internals.supergraphSchema, internals.apiSchema);
    return { ...(result.data !== undefined ? { data: result.data } : {}), ...(result.errors?.length ? { errors: result.errors } : {}) };
  } catch (error) {
    request.logger.error({ err: error, rootField: plan.rootField }, 'subscription event execution failed');
    return { data: null, errors: [publicError('INTERNAL_SERVER_ERROR', 'Internal server error')] };
  }
}
