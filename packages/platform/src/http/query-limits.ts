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
 * What graphql-armor (depth, aliases, directives, cost) and the parser (tokens) check before
 * execution, each refusal answered with the code naming its limit (MAX_DEPTH_LIMIT, …), a bound
 * on execution time and on the size of the answer (resolved fields) check during execution:
 * parsing and validation cannot see that `similar { similar { … } }` fans out.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLError as GraphQLErrorType, GraphQLFormattedError, OperationDefinitionNode, ValidationContext, ValidationRule } from 'graphql';
import { GraphQLError, Kind, Lexer, Source, TokenKind } from 'graphql';
import type { QueryLimitCode } from '../errors';
import { isPublicErrorCode, publicError } from '../errors';

/** Limits against abusive operations, the same on every transport (HTTP, graphql-ws, SSE, multipart) and at every subgraph. */
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
 * graphql-armor's validation rules for `limits`, each refusal reported as its own code with
 * `extensions.limit` (armor's own reports carry BAD_USER_INPUT, which Apollo Server turns into
 * GRAPHQL_VALIDATION_FAILED; see {@link limitRefusalCode} for how the code survives that).
 * `blockFieldSuggestion` hides "did you mean …" hints (production). The token limit is the
 * parser's (`parse(source, { maxTokens })`), not a rule.
 */
export function queryLimitRules(limits: QueryLimits = DEFAULT_QUERY_LIMITS, options: { blockFieldSuggestion?: boolean } = {}): { rules: ValidationRule[]; plugins: ApolloServerPlugin<BaseContext>[] } {
  const refuse = (code: QueryLimitCode, limit: number) => ({
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, error: GraphQLErrorType) => ctx?.reportError(publicError(code, error.message.replace(/^Syntax Error: /, ''), { extensions: { limit } }))],
  });
  const protection = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ...refuse('MAX_DEPTH_LIMIT', limits.maxDepth) },
    maxAliases: { n: limits.maxAliases, ...refuse('MAX_ALIASES_LIMIT', limits.maxAliases) },
    maxDirectives: { n: limits.maxDirectives, ...refuse('MAX_DIRECTIVES_LIMIT', limits.maxDirectives) },
    // The accepted estimate is kept by operation node (operationCost): the gateway's cost budget charges it.
    costLimit: { maxCost: limits.maxCost, onAccept: [recordOperationCost], ...refuse('COST_ESTIMATED_TOO_EXPENSIVE', limits.maxCost) },
    // Armor's token plugin throws from parsingDidStart, which Apollo Server answers with a 500:
    // the parser's own maxTokens is used instead (Apollo Server's `parseOptions`).
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: options.blockFieldSuggestion ?? false },
  }).protect();
  return { rules: protection.validationRules as ValidationRule[], plugins: protection.plugins as ApolloServerPlugin<BaseContext>[] };
}

/** Whether `source` has more than `maxTokens` tokens, counted as graphql-js's parser counts them. */
export function exceedsTokenLimit(source: string, maxTokens: number): boolean {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) if (++count > maxTokens) return true;
  } catch {
    return false; // a syntax error before the limit: a plain parse failure
  }
  return false;
}

/**
 * The limit code of a refused document, or undefined: a parse failure of a source over the token
 * limit is MAX_TOKENS_LIMIT; a validation error whose original error carries a limit code (our
 * armor reports, wrapped by Apollo Server as GRAPHQL_VALIDATION_FAILED) keeps that code.
 */
export function limitRefusalCode(error: unknown, maxTokens: number): QueryLimitCode | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  const original = error.originalError;
  const originalCode = original instanceof GraphQLError ? original.extensions['code'] : undefined;
  if (isPublicErrorCode(originalCode) && LIMIT_CODES.has(originalCode)) return originalCode as QueryLimitCode;
  if (error.extensions['code'] === 'GRAPHQL_PARSE_FAILED' && error.source && exceedsTokenLimit(error.source.body, maxTokens)) return 'MAX_TOKENS_LIMIT';
  return undefined;
}

const LIMIT_CODES: ReadonlySet<string> = new Set<QueryLimitCode>(['MAX_TOKENS_LIMIT', 'MAX_DEPTH_LIMIT', 'MAX_ALIASES_LIMIT', 'MAX_DIRECTIVES_LIMIT', 'COST_ESTIMATED_TOO_EXPENSIVE']);

/**
 * `formatted` (an error Apollo Server or the gateway's document check produced for `error`) with the
 * code of the limit that refused it, or `formatted` as it is when no limit did.
 */
export function withLimitCode(formatted: GraphQLFormattedError, error: unknown, limits: QueryLimits): GraphQLFormattedError {
  const code = limitRefusalCode(error, limits.maxTokens);
  if (!code) return formatted;
  const message = code === 'MAX_TOKENS_LIMIT' ? `The document has more than ${limits.maxTokens} tokens (the limit).` : formatted.message;
  const { locations: _locations, ...rest } = formatted;
  return { ...rest, message, extensions: { ...formatted.extensions, code, limit: code === 'MAX_TOKENS_LIMIT' ? limits.maxTokens : formatted.extensions?.['limit'] } };
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
 * The cost estimate {@link queryLimitRules}' rules accepted for an operation (what `maxCost` bounds; the
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
