/**
 * Executes an @apollo/gateway query plan (Sequence, Parallel, Flatten, Fetch, Condition) with the
 * same subgraph requests, in the same order, as @apollo/gateway 2.14's executeQueryPlan: the same
 * request bodies (query, variables, operationName; representations built from each fetch's
 * `requires`), sent through the same data sources (`service.process`, so our SubgraphDataSource's
 * signing, entity cache, stale-if-error, timeouts and metrics apply), merged into one tree with the
 * same deep merge, and the same errors (subgraph errors with their paths rewritten and
 * `serviceName`, failed fetches as thrown). The tree is shaped afterwards by result-shaper.ts.
 *
 * What it leaves out of @apollo/gateway's version, since nothing of ours reads it: the usage-report
 * trace nodes (protobuf objects built for every plan node of every request; the executor hands a
 * request that captures traces to @apollo/gateway), and the per-request allocations of its path
 * flattening and representation building.
 */
import type { GraphQLDataSource } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types';
import { applyRewrites, isObjectOfType } from '@apollo/gateway/dist/dataRewrites';
import { generateHydratedPaths } from '@apollo/gateway/dist/executeQueryPlan';
import { OpenTelemetrySpanNames, recordExceptions } from '@apollo/gateway/dist/utilities/opentelemetry';
import type { VariableDefinitions } from '@apollo/federation-internals';
import { ERRORS, errorCodeDef } from '@apollo/federation-internals';
import type { FetchNode, PlanNode, QueryPlanSelectionNode } from '@apollo/query-planner';
import { evaluateCondition } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { SpanStatusCode } from '@opentelemetry/api';
import type { GraphQLErrorExtensions, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { GraphQLError } from 'graphql';
import { activeSpan } from './spans';

type Data = Record<string, unknown>;
type ResponsePath = Array<string | number>;

/** Where a plan node runs: its path in the response, the objects there, and the whole tree. */
interface Cursor {
  readonly path: ResponsePath;
  readonly data: Data | Data[];
  readonly fullResult: Data;
}

/** One request's execution state. */
export interface PlanExecution {
  readonly requestContext: GatewayGraphQLRequestContext;
  /** @apollo/gateway's own map of data sources (read at each fetch, as its serviceMap is built per request). */
  readonly serviceMap: Readonly<Record<string, { readonly dataSource: GraphQLDataSource } | undefined>>;
  /** The supergraph as graphql-js (what rewrites and representation type conditions are checked against). */
  readonly supergraphSchema: GraphQLSchema;
  readonly variableDefinitions: VariableDefinitions;
  readonly telemetry: Parameters<typeof recordExceptions>[2];
  readonly errors: GraphQLError[];
}

/** Runs `node` at the root of `data` (the response tree, filled in place). */
export async function executePlanNode(execution: PlanExecution, node: PlanNode, data: Data): Promise<void> {
  await executeNode(execution, node, { path: [], data, fullResult: data });
}

async function executeNode(execution: PlanExecution, node: PlanNode, cursor: Cursor | undefined): Promise<void> {
  if (!cursor) return;
  switch (node.kind) {
    case 'Sequence':
      for (const child of node.nodes) await executeNode(execution, child, cursor);
      return;
    case 'Parallel':
      await Promise.all(node.nodes.map((child) => executeNode(execution, child, cursor)));
      return;
    case 'Flatten': {
      const data = flattenAt(cursor.data, node.path, 0) as Data | Data[] | undefined;
      await executeNode(execution, node.node, data ? { path: cursor.path.concat(node.path), data, fullResult: cursor.fullResult } : undefined);
      return;
    }
    case 'Fetch':
      try {
        await executeFetch(execution, node, cursor);
      } catch (error) {
        execution.errors.push(error as GraphQLError);
      }
      return;
    case 'Condition': {
      const branch = evaluateCondition(node, execution.variableDefinitions, execution.requestContext.request.variables) ? node.ifClause : node.elseClause;
      if (branch) await executeNode(execution, branch, cursor);
      return;
    }
    case 'Defer':
      // Plans with @defer are left to @apollo/gateway (own-executor.ts), which refuses them the same way.
      throw new Error('@defer support is not available in the gateway');
  }
}

/** @apollo/gateway's flattenResultsAtPath, without its per-step array copies. */
function flattenAt(value: unknown, path: ReadonlyArray<string | number>, at: number): unknown {
  if (at === path.length) return value;
  if (value === undefined || value === null) return value;
  const current = path[at];
  if (current === '@') return (value as unknown[]).flatMap((element) => flattenAt(element, path, at + 1));
  if (typeof current !== 'string') throw new Error(`Unexpected ${typeof current} found in path`);
  if (Array.isArray(value)) throw new Error(`Unexpected array in result for path element ${current}`);
  return flattenAt(Object.prototype.hasOwnProperty.call(value, current) ? (value as Data)[current] : undefined, path, at + 1);
}

function executeFetch(execution: PlanExecution, fetch: FetchNode, cursor: Cursor): Promise<void> {
  return activeSpan(OpenTelemetrySpanNames.FETCH, () => ({ service: fetch.serviceName }), async (span) => {
    try {
      const service = execution.serviceMap[fetch.serviceName]?.dataSource;
      if (!service) throw new Error(`Couldn't find service with name "${fetch.serviceName}"`);
      const entities = Array.isArray(cursor.data) ? cursor.data.filter((e) => e !== null && e !== undefined) : [cursor.data];
      if (entities.length < 1) return;
      const variables = Object.create(null) as Data;
      const provided = execution.requestContext.request.variables;
      if (fetch.variableUsages && provided) {
        for (const name of fetch.variableUsages) {
          if (Object.prototype.hasOwnProperty.call(provided, name) && provided[name] !== undefined) variables[name] = provided[name];
        }
      }
      if (!fetch.requires) {
        const received = await send(execution, service, fetch, cursor, variables);
        if (received) applyRewrites(execution.supergraphSchema, fetch.outputRewrites, received);
        for (const entity of entities) deepMerge(entity, received);
        return;
      }
      const representations: Data[] = [];
      const representationToEntity: number[] = [];
      for (let i = 0; i < entities.length; i++) {
        const representation = selectRepresentation(execution.supergraphSchema, entities[i]!, fetch.requires);
        if (representation && representation['__typename']) {
          applyRewrites(execution.supergraphSchema, fetch.inputRewrites, representation);
          representations.push(representation);
          representationToEntity.push(i);
        }
      }
      if (representations.length < 1) return;
      if ('representations' in variables) throw new Error(`Variables cannot contain key "representations"`);
      const received = await send(execution, service, fetch, cursor, { ...variables, representations });
      if (!received) return;
      const receivedEntities = received['_entities'];
      if (!Array.isArray(receivedEntities)) throw new Error(`Expected "data._entities" in response to be an array`);
      if (receivedEntities.length !== representations.length) throw new Error(`Expected "data._entities" to contain ${representations.length} elements`);
      // @apollo/gateway walks entities.length here; past representations.length both sides are undefined and nothing happens.
      for (let i = 0; i < representations.length; i++) {
        const receivedEntity = receivedEntities[i] as Data | null | undefined;
        const existing = entities[representationToEntity[i]!]!;
        if (receivedEntity && !receivedEntity['__typename']) receivedEntity['__typename'] = existing['__typename'];
        applyRewrites(execution.supergraphSchema, fetch.outputRewrites, receivedEntity as Data);
        deepMerge(existing, receivedEntity);
      }
    } catch (error) {
      recordExceptions(span, [error as GraphQLError], execution.telemetry);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

async function send(execution: PlanExecution, service: GraphQLDataSource, fetch: FetchNode, cursor: Cursor, variables: Data): Promise<Data | null | undefined> {
  const requestContext = execution.requestContext;
  const response = await service.process({
    kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
    // The key order is the body's (query, variables, operationName), as @apollo/gateway sends it.
    request: { query: fetch.operation, variables, operationName: fetch.operationName, http: undefined },
    incomingRequestContext: requestContext,
    context: requestContext.context,
    document: fetch.operationDocumentNode,
    pathInIncomingRequest: cursor.path,
  } as never);
  if (response.errors) {
    const pathOf = lazyErrorPath(fetch, cursor);
    execution.errors.push(...response.errors.map((error) => downstreamServiceError(error, fetch.serviceName, pathOf)));
    if (!response.extensions?.['ftv1']) {
      const errorPaths = response.errors.map((error) => ({ subgraph: fetch.serviceName, path: error.path }));
      const metrics = requestContext.metrics as { nonFtv1ErrorPaths?: Array<{ subgraph: string; path: unknown }> };
      if (metrics.nonFtv1ErrorPaths) metrics.nonFtv1ErrorPaths.push(...errorPaths);
      else metrics.nonFtv1ErrorPaths = errorPaths;
    }
  }
  return response.data as Data | null | undefined;
}

/** @apollo/gateway's makeLazyErrorPathGenerator: an entity error's `_entities` index becomes the entity's path in the response. */
function lazyErrorPath(fetch: FetchNode, cursor: Cursor): (errorPath: ReadonlyArray<string | number> | undefined) => ResponsePath | undefined {
  let hydrated: ResponsePath[] | undefined;
  return (errorPath) => {
    if (fetch.requires && typeof errorPath?.[1] === 'number') {
      if (!hydrated) {
        hydrated = [];
        generateHydratedPaths([], cursor.path, cursor.fullResult, hydrated);
      }
      return [...(hydrated[errorPath[1]] ?? []), ...errorPath.slice(2)];
    }
    return errorPath ? [...cursor.path, ...errorPath.slice()] : undefined;
  };
}

/** @apollo/gateway's downstreamServiceError: the subgraph's message and extensions, plus serviceName and a code. */
function downstreamServiceError(original: GraphQLFormattedError, serviceName: string, pathOf: (p: ReadonlyArray<string | number> | undefined) => ResponsePath | undefined): GraphQLError {
  const message = original.message || `Error while fetching subquery from service "${serviceName}"`;
  const extensions = original.extensions as GraphQLErrorExtensions | undefined;
  const options = { originalError: original as Error, path: pathOf(original.path) as ResponsePath, extensions: { ...extensions, serviceName } };
  const codeDef = errorCodeDef(original as GraphQLError);
  if (!codeDef && extensions?.['code']) return new GraphQLError(message, options);
  return (codeDef ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}

/** @apollo/gateway's executeSelectionSet: an entity's representation by the fetch's `requires` (null when a field is missing). */
function selectRepresentation(schema: GraphQLSchema, source: Data | null, selections: readonly QueryPlanSelectionNode[]): Data | null {
  if (source === null) return null;
  const result = Object.create(null) as Data;
  for (const selection of selections) {
    if (selection.kind === 'Field') {
      const responseName = selection.alias ?? selection.name;
      const value = Object.prototype.hasOwnProperty.call(source, responseName) ? source[responseName] : undefined;
      if (value === undefined) return null;
      const sub = selection.selections;
      if (Array.isArray(value)) result[responseName] = value.map((v: unknown) => (sub ? selectRepresentation(schema, v as Data | null, sub) : v));
      else if (sub) result[responseName] = selectRepresentation(schema, value as Data | null, sub);
      else result[responseName] = value;
    } else {
      if (!selection.typeCondition || !source) continue;
      if (isObjectOfType(schema, source, selection.typeCondition)) deepMerge(result, selectRepresentation(schema, source, selection.selections));
    }
  }
  return result;
}

function isObject(value: unknown): value is Data {
  return value !== undefined && value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** @apollo/gateway's deepMerge (utilities/deepMerge.js), the same steps. */
function deepMerge(target: Data, source: Data | null | undefined): Data {
  if (source === undefined || source === null) return target;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === undefined) continue;
    // defineOwn: a key the target only inherits (e.g. "constructor") becomes its own before it is read.
    if (!Object.prototype.hasOwnProperty.call(target, key) && key in target) Object.defineProperty(target, key, { configurable: true, enumerable: true, value: undefined, writable: true });
    const existing = target[key];
    if (existing && isObject(value)) {
      deepMerge(existing as Data, value);
    } else if (Array.isArray(value) && Array.isArray(existing) && value.length === existing.length) {
      for (let i = 0; i < value.length; i++) {
        if (isObject(existing[i]) && isObject(value[i])) deepMerge(existing[i] as Data, value[i] as Data);
        else existing[i] = value[i];
      }
    } else {
      target[key] = value;
    }
  }
  return target;
}
