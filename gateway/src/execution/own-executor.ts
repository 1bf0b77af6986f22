/**
 * The gateway's own executor of @apollo/gateway's query plans (`GATEWAY_EXECUTOR=own`).
 *
 * Apollo Server calls it where it would call @apollo/gateway's executor. Everything up to the plan
 * is @apollo/gateway's own code, called as its executor calls it: the operation context, the
 * validation of the variables (its `validateIncomingRequest`), the plan from its plan store (our
 * measured cache, query-plan-cache.ts) or from its planner on a miss, stored as it stores it. The
 * execution is ours: plan-executor.ts sends the same subgraph requests through the same data
 * sources and merges them into one tree; result-shaper.ts shapes it in one pass with a program
 * compiled once per plan. The spans are @apollo/gateway's (its tracer, gateway.request /
 * gateway.plan / gateway.execute / gateway.fetch / gateway.postprocessing), so traces and the trace
 * context sent to subgraphs stay the same.
 *
 * Handed to @apollo/gateway whole (its answer, unchanged): operations with introspection fields
 * (`__schema`, `__type`), a `__proto__` response name, plans with @defer or a subscription, a
 * `@skip`/`@include` variable that is not a boolean, requests that capture usage-report traces or
 * ask for the query plan (`Apollo-Query-Plan-Experimental`), and operations federation-internals
 * cannot read. None of them is on a hot path.
 */
import { createHash } from 'node:crypto';
import type { ApolloGateway, GraphQLDataSource } from '@apollo/gateway';
import { buildOperationContext } from '@apollo/gateway/dist/operationContext';
import type { OperationContext } from '@apollo/gateway/dist/operationContext';
import { OpenTelemetryAttributeNames, OpenTelemetrySpanNames, operationContextSpanAttributes, recordExceptions, requestContextSpanAttributes, tracer } from '@apollo/gateway/dist/utilities/opentelemetry';
import type { Operation, Schema } from '@apollo/federation-internals';
import { operationFromDocument } from '@apollo/federation-internals';
import type { PlanNode, QueryPlan, QueryPlanCache, QueryPlanner } from '@apollo/query-planner';
import type { GatewayExecutionResult, GatewayExecutor, GatewayGraphQLRequestContext, GatewayInterface } from '@apollo/server-gateway-interface';
import type { Span } from '@opentelemetry/api';
import { SpanStatusCode } from '@opentelemetry/api';
import type { GraphQLSchema } from 'graphql';
import { GraphQLError, Kind } from 'graphql';
import { counter } from '@shop/platform';
import type { PlanExecution } from './plan-executor';
import { executePlanNode } from './plan-executor';
import { NotCompilable, ResultShaper } from './result-shaper';
import { activeSpan } from './spans';

/** Which executor runs the query plans: @apollo/gateway's (`apollo`) or ours (`own`). */
export const GATEWAY_EXECUTORS = ['apollo', 'own'] as const;
export type GatewayExecutorKind = (typeof GATEWAY_EXECUTORS)[number];
/** The default executor: ours (every gateway and e2e test that runs queries passes with it, and it answers byte for byte what @apollo/gateway answers: docs/notes/gateway-bench.md). */
export const DEFAULT_GATEWAY_EXECUTOR: GatewayExecutorKind = 'own';

/**
 * The executor of a gateway whose settings do not say: `GATEWAY_EXECUTOR` of the environment when
 * it names one (so that test gateways follow it too), else {@link DEFAULT_GATEWAY_EXECUTOR}.
 */
export function defaultGatewayExecutor(): GatewayExecutorKind {
  const value = process.env['GATEWAY_EXECUTOR'];
  return (GATEWAY_EXECUTORS as readonly string[]).includes(value ?? '') ? (value as GatewayExecutorKind) : DEFAULT_GATEWAY_EXECUTOR;
}

const delegatedTotal = counter({
  name: 'gateway_executor_delegated_total',
  help: 'Requests the own executor handed to @apollo/gateway (introspection, @defer, query-plan display, traces captured), by reason.',
  labelNames: ['reason'],
});

/** What the executor reads of @apollo/gateway (2.14), private in its types. */
interface GatewayInternals {
  readonly schema?: GraphQLSchema;
  readonly apiSchema?: Schema;
  readonly supergraphSchema?: GraphQLSchema;
  readonly serviceMap: Readonly<Record<string, { readonly dataSource: GraphQLDataSource } | undefined>>;
  readonly queryPlanStore: QueryPlanCache;
  readonly queryPlanner?: QueryPlanner;
  readonly config: { readonly telemetry?: Parameters<typeof recordExceptions>[2]; readonly __exposeQueryPlanExperimental?: boolean };
  readonly logger: { warn(message: string): void };
  readonly recursiveSelectionsLimitDisabled: boolean;
  readonly nonLocalSelectionsLimitDisabled: boolean;
  readonly experimental_didResolveQueryPlan?: unknown;
  validateIncomingRequest(requestContext: GatewayGraphQLRequestContext, operationContext: OperationContext): readonly GraphQLError[];
}

/** A plan ready for our executor, or why it goes to @apollo/gateway. */
type Compiled = { readonly shaper: ResultShaper; readonly operation: Operation } | { readonly delegate: string };

/**
 * The gateway as Apollo Server sees it, with `kind` = `own` executing its plans with ours (see the
 * module comment); `apollo` answers `gateway` itself.
 */
export function executingGateway(gateway: ApolloGateway, kind: GatewayExecutorKind): GatewayInterface {
  if (kind === 'apollo') return gateway;
  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    load: async (options) => {
      const { executor } = await gateway.load(options);
      return { executor: executor ? ownExecutor(gateway, executor) : null };
    },
    stop: () => gateway.stop(),
  };
}

/** Our executor of `gateway`'s plans; `apollo` is @apollo/gateway's own, for what ours hands over. */
export function ownExecutor(gateway: ApolloGateway, apollo: GatewayExecutor): GatewayExecutor {
  const g = gateway as unknown as GatewayInternals;
  if (typeof g.validateIncomingRequest !== 'function' || !('queryPlanStore' in g)) throw new Error('GATEWAY_EXECUTOR=own: this @apollo/gateway version does not have the internals the own executor reads (2.14 does)');
  const compiled = new WeakMap<QueryPlan, Compiled>();
  /** Plan-store keys of operations handed to @apollo/gateway (bounded: cleared when large). */
  const delegatedKeys = new Map<string, string>();
  const delegate = (requestContext: GatewayGraphQLRequestContext, reason: string): Promise<GatewayExecutionResult> => {
    delegatedTotal.inc({ reason });
    return apollo(requestContext);
  };
  /** @apollo/gateway's plan-store key of an operation picked by name (a SHA-256 of the document's hash and the name), computed once per pair. */
  const planKeys = new Map<string, string>();
  const planKey = (queryHash: string, operationName: string): string => {
    const pair = `${queryHash}\n${operationName}`;
    let key = planKeys.get(pair);
    if (key === undefined) {
      key = createHash('sha256').update(queryHash).update(operationName).digest('hex');
      if (planKeys.size >= 1_000) planKeys.clear();
      planKeys.set(pair, key);
    }
    return key;
  };
  return async (requestContext) => {
    if (g.experimental_didResolveQueryPlan) return delegate(requestContext, 'hook');
    if (requestContext.metrics?.captureTraces) return delegate(requestContext, 'traces');
    const headers = requestContext.request.http?.headers;
    if (g.config.__exposeQueryPlanExperimental && headers?.get('Apollo-Query-Plan-Experimental')) return delegate(requestContext, 'query-plan');
    const { request, document, queryHash } = requestContext;
    const key = request.operationName ? planKey(queryHash, request.operationName) : queryHash;
    const known = delegatedKeys.get(key);
    if (known) return delegate(requestContext, known);
    const answer = await activeSpan(OpenTelemetrySpanNames.REQUEST, () => requestContextSpanAttributes(requestContext, g.config.telemetry), async (span) => {
      try {
        const operationContext = buildOperationContext({ schema: g.schema!, operationDocument: document, ...(request.operationName ? { operationName: request.operationName } : {}) });
        if (span.isRecording()) span.setAttributes(operationContextSpanAttributes(operationContext));
        const validationErrors = g.validateIncomingRequest(requestContext, operationContext);
        if (validationErrors.length > 0) {
          markFailed(span, validationErrors, g.config.telemetry);
          return { errors: [...validationErrors] } satisfies GatewayExecutionResult;
        }
        const plan = await queryPlan(g, requestContext, key);
        let ready = compiled.get(plan);
        if (!ready) {
          ready = compile(g, plan, operationContext);
          compiled.set(plan, ready);
        }
        if ('delegate' in ready) {
          if (delegatedKeys.size >= 1_000) delegatedKeys.clear();
          delegatedKeys.set(key, ready.delegate);
          return ready.delegate;
        }
        const conditions = ready.shaper.conditionValues(request.variables);
        if (!conditions) return 'condition-variable';
        const response = await execute(g, plan, ready.shaper, ready.operation, conditions, requestContext);
        if (response.errors) {
          markFailed(span, response.errors, g.config.telemetry);
        }
        return response;
      } catch (error) {
        markFailed(span, [error], g.config.telemetry);
        throw error;
      } finally {
        span.end();
      }
    });
    return typeof answer === 'string' ? delegate(requestContext, answer) : answer;
  };
}

/** The plan from @apollo/gateway's store, or planned by its planner and stored, as its executor does. */
async function queryPlan(g: GatewayInternals, requestContext: GatewayGraphQLRequestContext, key: string): Promise<QueryPlan> {
  const cached = await g.queryPlanStore.get(key);
  if (cached) return cached;
  const plan = tracer.startActiveSpan(OpenTelemetrySpanNames.PLAN, requestContext.operationName ? { attributes: { [OpenTelemetryAttributeNames.GRAPHQL_OPERATION_NAME]: requestContext.operationName } } : {}, (span) => {
    try {
      const operation = operationFromDocument(g.apiSchema!, requestContext.document, requestContext.request.operationName ? { operationName: requestContext.request.operationName } : {});
      return g.queryPlanner!.buildQueryPlan(operation, { recursiveSelectionsLimitDisabled: g.recursiveSelectionsLimitDisabled, nonLocalSelectionsLimitDisabled: g.nonLocalSelectionsLimitDisabled });
    } catch (error) {
      markFailed(span, [error], g.config.telemetry);
      throw error;
    } finally {
      span.end();
    }
  });
  try {
    await g.queryPlanStore.set(key, plan);
  } catch (error) {
    g.logger.warn(`Could not store queryPlan${(error as Error)?.message ?? String(error)}`);
  }
  return plan;
}

/** The operation as federation-internals reads it (as executeQueryPlan does) and its shaping program, once per plan. */
function compile(g: GatewayInternals, plan: QueryPlan, operationContext: OperationContext): Compiled {
  if (plan.node?.kind === 'Subscription') return { delegate: 'subscription' };
  if (plan.node && hasDefer(plan.node)) return { delegate: 'defer' };
  let operation: Operation;
  try {
    operation = operationFromDocument(g.apiSchema!, { kind: Kind.DOCUMENT, definitions: [operationContext.operation, ...Object.values(operationContext.fragments)] }, { validate: false });
  } catch {
    return { delegate: 'unreadable' };
  }
  try {
    return { shaper: new ResultShaper(operation), operation };
  } catch (error) {
    if (error instanceof NotCompilable) return { delegate: error.message === 'introspection' ? 'introspection' : 'response-name' };
    throw error;
  }
}

function hasDefer(node: PlanNode): boolean {
  switch (node.kind) {
    case 'Defer':
      return true;
    case 'Sequence':
    case 'Parallel':
      return node.nodes.some(hasDefer);
    case 'Flatten':
      return hasDefer(node.node);
    case 'Condition':
      return (node.ifClause ? hasDefer(node.ifClause) : false) || (node.elseClause ? hasDefer(node.elseClause) : false);
    default:
      return false;
  }
}

/** executeQueryPlan's steps: run the plan into one tree, then shape it; the same answer for each outcome. */
function execute(g: GatewayInternals, plan: QueryPlan, shaper: ResultShaper, operation: Operation, conditions: Readonly<Record<string, unknown>>, requestContext: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> {
  return activeSpan(OpenTelemetrySpanNames.EXECUTE, undefined, async (span) => {
    try {
      const execution: PlanExecution = { requestContext, serviceMap: g.serviceMap, supergraphSchema: g.supergraphSchema!, variableDefinitions: operation.variableDefinitions, telemetry: g.config.telemetry, errors: [] };
      const unfiltered = Object.create(null) as Record<string, unknown>;
      if (plan.node) await executePlanNode(execution, plan.node as PlanNode, unfiltered);
      const errors = execution.errors;
      const result = activeSpan(OpenTelemetrySpanNames.POST_PROCESSING, undefined, (post): GatewayExecutionResult => {
        try {
          const shaped = shaper.shape(unfiltered, conditions);
          if (errors.length === 0 && shaped.errors.length > 0) {
            markFailed(post, shaped.errors, g.config.telemetry);
            return { extensions: { valueCompletion: shaped.errors }, data: shaped.data };
          }
          return errors.length === 0 ? { data: shaped.data } : { errors, data: shaped.data };
        } catch (error) {
          markFailed(post, [error], g.config.telemetry);
          if (error instanceof GraphQLError) return { errors: [error] };
          if (error instanceof Error) return { errors: [new GraphQLError(error.message, { originalError: error })] };
          return { errors: [new GraphQLError('Unexpected error during query plan execution')] };
        } finally {
          post.end();
        }
      });
      if (result.errors) {
        markFailed(span, result.errors, g.config.telemetry);
      }
      return result;
    } catch (error) {
      markFailed(span, [error], g.config.telemetry);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Records `errors` on `span` (as @apollo/gateway's telemetry settings say) and marks it failed, as @apollo/gateway does at each step. */
function markFailed(span: Span, errors: readonly unknown[], telemetry: Parameters<typeof recordExceptions>[2]): void {
  recordExceptions(span, [...errors] as GraphQLError[], telemetry);
  span.setStatus({ code: SpanStatusCode.ERROR });
}
