/**
 * Query limits, one configuration for the gateway and every subgraph.
 *
 * The gateway refuses abusive operations before planning them; each subgraph refuses them again
 * on its own (defence in depth: a subgraph reached by a misconfigured network, or by a gateway
 * bug, must not run out of memory on one request). The same numbers hold at both: the gateway's
 * query planner only ever sends a subgraph a part of the client's operation (an entity fetch is
 * `_entities` over a subtree that started below the root, so it is never deeper), and inline
 * fragments do not count as depth (`flattenFragments`), so what passes the gateway passes the
 * subgraphs.
 *
 * What graphql-armor checks before execution (depth, aliases, directives, tokens, cost), a bound
 * on execution time and on the size of the answer (resolved fields) check during execution:
 * parsing and validation cannot see that `similar { similar { … } }` fans out.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { OperationDefinitionNode, ValidationContext, ValidationRule } from 'graphql';
import { Kind } from 'graphql';
import { publicError } from '../errors';

export interface QueryLimits {
  /** Deepest field nesting (fragments not counted). Default 12. */
  readonly maxDepth: number;
  /** Aliases in one operation. Default 30. */
  readonly maxAliases: number;
  /** Directives in one operation. Default 30. */
  readonly maxDirectives: number;
  /** Tokens in the document (bounds parsing itself). Default 5 000. */
  readonly maxTokens: number;
  /** graphql-armor's static cost (objects 2, scalars 1, ×1.5 per level). Default 20 000. */
  readonly maxCost: number;
  /** Largest request body, in bytes. Default 1 MiB. */
  readonly maxBodyBytes: number;
  /** Longest execution of one operation, in ms; fields not resolved by then fail. Default 10 000. */
  readonly executionTimeoutMs: number;
  /**
   * Most fields one answer may resolve (a bound on its size: 100 000 fields are a few MB of JSON).
   * Default 100 000.
   */
  readonly maxResponseFields: number;
}

/** The limits of the gateway and the subgraphs. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxDirectives: 30,
  maxTokens: 5_000,
  maxCost: 20_000,
  maxBodyBytes: 1024 * 1024,
  executionTimeoutMs: 10_000,
  maxResponseFields: 100_000,
};

/**
 * graphql-armor's Apollo plugins and validation rules for `limits`. `tokensInParser: false` leaves
 * the token limit to the caller's own `parse` (the gateway's subscription server); field
 * suggestions are blocked when `blockFieldSuggestion` (production).
 */
export function queryArmor(
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
  options: { readonly blockFieldSuggestion?: boolean; readonly tokensInParser?: boolean } = {},
): { plugins: ApolloServerPlugin<BaseContext>[]; validationRules: ValidationRule[] } {
  const protection = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, flattenFragments: true },
    maxAliases: { n: limits.maxAliases },
    maxDirectives: { n: limits.maxDirectives },
    maxTokens: options.tokensInParser === false ? { enabled: false } : { n: limits.maxTokens },
    // The accepted estimate is kept by operation node (operationCost): the gateway's cost budget charges it.
    costLimit: { maxCost: limits.maxCost, onAccept: [recordOperationCost] },
    blockFieldSuggestion: { enabled: options.blockFieldSuggestion ?? false },
  }).protect();
  return { plugins: protection.plugins as ApolloServerPlugin<BaseContext>[], validationRules: protection.validationRules as ValidationRule[] };
}

/**
 * Operation costs as graphql-armor's cost rule computed them during validation, by operation node.
 * Validated documents are cached (Apollo Server's document store, the subscription server's own
 * cache), and their nodes with them, so the cost is computed once per document, not per request.
 */
const costs = new WeakMap<OperationDefinitionNode, number>();

/** How many operations of a validation's document the cost rule has reported so far. */
const reported = new WeakMap<ValidationContext, number>();

/** The cost rule's `onAccept` callback: remembers the estimate of each accepted operation. */
function recordOperationCost(context: ValidationContext | null, accepted: { n: number }): void {
  if (!context) return;
  // The rule visits the operations in document order and reports once per operation.
  const index = reported.get(context) ?? 0;
  reported.set(context, index + 1);
  const operation = context.getDocument().definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)[index];
  if (operation) costs.set(operation, accepted.n);
}

/**
 * The cost estimate {@link queryArmor}'s rules accepted for an operation (what `maxCost` bounds; the
 * gateway's cost budget charges it). 1 when the rules did not see it (e.g. introspection).
 */
export function operationCost(operation: OperationDefinitionNode): number {
  return Math.max(1, costs.get(operation) ?? 1);
}

/**
 * Bounds one operation's execution: once it has run `executionTimeoutMs`, or resolved
 * `maxResponseFields` fields, every field still to resolve fails at once (so the rest of the tree
 * is never built), and the answer carries one error saying which bound was hit: BAD_USER_INPUT
 * for the size (asking for less is the fix), SERVICE_UNAVAILABLE for the time (retryable).
 */
export function useExecutionBounds(limits: Pick<QueryLimits, 'executionTimeoutMs' | 'maxResponseFields'> = DEFAULT_QUERY_LIMITS): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async executionDidStart() {
          const deadline = Date.now() + limits.executionTimeoutMs;
          let fields = 0;
          let exceeded: Error | undefined;
          return {
            willResolveField() {
              if (exceeded) throw exceeded;
              if (++fields > limits.maxResponseFields) {
                exceeded = publicError('BAD_USER_INPUT', `The answer would exceed ${limits.maxResponseFields} fields; ask for less (fewer levels, smaller pages).`, { extensions: { limit: 'response-fields' } });
                throw exceeded;
              }
              if (Date.now() > deadline) {
                exceeded = publicError('SERVICE_UNAVAILABLE', `The operation took longer than ${limits.executionTimeoutMs} ms and was stopped.`, { extensions: { limit: 'execution-time' } });
                throw exceeded;
              }
              return undefined;
            },
          };
        },
        async willSendResponse({ response }) {
          // One error per bound, not one per field that was cut.
          if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          const seen = new Set<string>();
          response.body.singleResult.errors = response.body.singleResult.errors.filter((e) => {
            const limit = e.extensions?.['limit'];
            if (typeof limit !== 'string') return true;
            if (seen.has(limit)) return false;
            seen.add(limit);
            return true;
          });
        },
      };
    },
  };
}
