import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLError as GraphQLErrorType, GraphQLFormattedError, ValidationContext, ValidationRule } from 'graphql';
import { GraphQLError, Lexer, Source, TokenKind } from 'graphql';
import type { QueryLimitCode } from '../errors';
import { isPublicErrorCode, publicError } from '../errors';

/** Limits against abusive operations, the same on every transport (HTTP, graphql-ws, SSE, multipart). */
export interface QueryLimits {
  /** Field nesting (introspection not counted). Default 12. */
  readonly maxDepth: number;
  /** Aliases in one operation. Default 30. */
  readonly maxAliases: number;
  /** Directives in one operation. Default 30. */
  readonly maxDirectives: number;
  /** Lexical tokens the parser reads before giving up. Default 5 000. */
  readonly maxTokens: number;
  /** graphql-armor's cost estimate. Default 20 000. */
  readonly maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxDirectives: 30, maxTokens: 5_000, maxCost: 20_000 };

/**
 * graphql-armor's validation rules for `limits`, each refusal reported as its own code with
 * `extensions.limit` (armor's own reports carry BAD_USER_INPUT, which Apollo Server turns into
 * GRAPHQL_VALIDATION_FAILED; see {@link limitRefusalCode} for how the code survives that).
 * `blockFieldSuggestion` hides "did you mean …" hints (production). The token limit is the
 * parser's (`parse(source, { maxTokens })`), not a rule.
 */
export function queryLimitRules(limits: QueryLimits, options: { blockFieldSuggestion?: boolean } = {}): { rules: ValidationRule[]; plugins: ReturnType<ApolloArmor['protect']>['plugins'] } {
  const refuse = (code: QueryLimitCode, limit: number) => ({
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, error: GraphQLErrorType) => ctx?.reportError(publicError(code, error.message.replace(/^Syntax Error: /, ''), { extensions: { limit } }))],
  });
  const protection = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, ...refuse('MAX_DEPTH_LIMIT', limits.maxDepth) },
    maxAliases: { n: limits.maxAliases, ...refuse('MAX_ALIASES_LIMIT', limits.maxAliases) },
    maxDirectives: { n: limits.maxDirectives, ...refuse('MAX_DIRECTIVES_LIMIT', limits.maxDirectives) },
    costLimit: { maxCost: limits.maxCost, ...refuse('COST_ESTIMATED_TOO_EXPENSIVE', limits.maxCost) },
    // Armor's token plugin throws from parsingDidStart, which Apollo Server answers with a 500:
    // the parser's own maxTokens is used instead (Apollo Server's `parseOptions`).
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: options.blockFieldSuggestion ?? false },
  }).protect();
  return { rules: protection.validationRules as ValidationRule[], plugins: protection.plugins };
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
