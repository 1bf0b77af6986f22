/**
 * The edge checks every subscription transport applies (graphql-ws here; SSE and multipart call the
 * same functions): a new connection and each subscribe message count against the caller's rate
 * budgets of HTTP requests (rate-limits.ts), and in require mode only safelisted operations run
 * (persisted-operations.ts).
 */
import type { GraphQLError, OperationDefinitionNode } from 'graphql';
import type { Identity } from '@shop/platform';
import type { PersistedOperations } from '../persisted-operations';
import { sha256 } from '../persisted-operations';
import type { RateLimits, Transport, Verdict } from '../rate-limits';
import { rateLimitedError } from '../rate-limits';

/** What the edge checks need of the gateway (absent: nothing checked, as in tests of the transport alone). */
export interface EdgeChecks {
  readonly rateLimits?: RateLimits | undefined;
  readonly persistedOperations?: PersistedOperations | undefined;
}

/** Who is connecting or subscribing. */
export interface Subscriber {
  readonly identity: Identity | null;
  readonly address: string | undefined;
  readonly transport: Transport;
}

/** Charges a new connection (one request) to the caller; answers the refusal, or null when it may open. */
export async function admitConnection(edge: EdgeChecks, who: Subscriber): Promise<Verdict | null> {
  if (!edge.rateLimits) return null;
  const verdict = await edge.rateLimits.charge(edge.rateLimits.callerOf(who.identity, who.address), 'requests', 1, who.transport);
  return verdict && !verdict.allowed ? verdict : null;
}

/** The close reason of a connection refused by its budget (WebSocket close 1013 Try Again Later). */
export function rateLimitedCloseReason(verdict: Verdict): string {
  return `Rate limited: retry in ${verdict.resetSeconds} s`;
}

/**
 * Checks one subscribe message: the safelist (by the hash of the query text), then the budgets (one
 * request, plus the operation's cost). Answers the errors to send back, or null when it may run.
 */
export async function admitSubscribe(edge: EdgeChecks, who: Subscriber, query: string, operation: OperationDefinitionNode): Promise<readonly GraphQLError[] | null> {
  const persisted = edge.persistedOperations;
  if (persisted && persisted.mode !== 'off') {
    try {
      persisted.admit(sha256(query), operation, who.transport, false);
    } catch (error) {
      return [error as GraphQLError];
    }
  }
  if (!edge.rateLimits) return null;
  const verdict = await edge.rateLimits.chargeOperation(edge.rateLimits.callerOf(who.identity, who.address), operation, who.transport);
  return verdict && !verdict.allowed ? [rateLimitedError(verdict, false)] : null;
}
