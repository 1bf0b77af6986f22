/**
 * The edge checks every subscription transport applies, as guards: a new connection and each
 * subscribe message count against the caller's rate budgets of HTTP requests (rate-limits.ts), and
 * in require mode only safelisted operations run (persisted-operations.ts).
 *
 * A guard is `{ connect, subscribe }` answering a GraphQL error to refuse (RATE_LIMITED with
 * `extensions.retryAfterSeconds`, PERSISTED_QUERY_NOT_LISTED) or nothing to let through: the shape of
 * the transport-neutral subscription core's guard seam (graphql-ws, SSE, multipart), so the same
 * checks plug into every transport: attachSubscriptions (index.ts) gives the core {@link edgeGuards}.
 */
import type { GraphQLError, OperationDefinitionNode } from 'graphql';
import type { Identity } from '@shop/platform';
import type { PersistedOperations } from '../persisted-operations';
import { sha256 } from '../persisted-operations';
import type { RateLimits, Transport } from '../rate-limits';
import { rateLimitedError } from '../rate-limits';

/** What the edge checks need of the gateway (absent: nothing checked, as in tests of the transport alone). */
export interface EdgeChecks {
  readonly rateLimits?: RateLimits | undefined;
  readonly persistedOperations?: PersistedOperations | undefined;
}

/** The subscription transports as the core names them. */
export type GuardTransport = 'ws' | 'sse' | 'multipart';

/** A connection about to open. */
export interface GuardCandidate {
  readonly identity: Identity | null;
  /** The client's address as the gateway sees it (trust-proxy included). */
  readonly clientAddress: string | undefined;
  readonly transport: GuardTransport;
}

/** An open connection that subscribes. */
export interface GuardSession {
  readonly identity: Identity | null;
  readonly clientAddress: string | undefined;
  readonly transport: { readonly kind: GuardTransport };
}

/**
 * One check on connections and subscribe requests, whatever the transport. `subscribe` runs after the
 * document was parsed and validated: `operation` is the validated node (its cost estimate is known).
 */
export interface EdgeGuard {
  connect?(candidate: GuardCandidate): Promise<GraphQLError | undefined> | GraphQLError | undefined;
  subscribe?(session: GuardSession, payload: { readonly query: string }, operation: OperationDefinitionNode): Promise<GraphQLError | undefined> | GraphQLError | undefined;
}

/** The budgets' transport label of a core transport. */
function budgetTransport(kind: GuardTransport): Transport {
  return kind === 'ws' ? 'websocket' : kind;
}

/**
 * The rate budgets as a guard: a connection charges one request, a subscribe message one request
 * plus the operation's cost; a refusal is RATE_LIMITED with `retryAfterSeconds` (WebSocket: the
 * connection is closed, see {@link rateLimitedCloseReason}; HTTP transports: 429 + Retry-After).
 */
export function rateLimitGuard(rateLimits: RateLimits): Required<EdgeGuard> {
  return {
    async connect(candidate) {
      const verdict = await rateLimits.charge(rateLimits.callerOf(candidate.identity, candidate.clientAddress), 'requests', 1, budgetTransport(candidate.transport));
      return verdict && !verdict.allowed ? rateLimitedError(verdict, true) : undefined;
    },
    async subscribe(session, _payload, operation) {
      const verdict = await rateLimits.chargeOperation(rateLimits.callerOf(session.identity, session.clientAddress), operation, budgetTransport(session.transport.kind));
      return verdict && !verdict.allowed ? rateLimitedError(verdict, false) : undefined;
    },
  };
}

/** The safelist as a guard: in `require` mode a subscription whose text is not listed is refused (PERSISTED_QUERY_NOT_LISTED). */
export function safelistGuard(persisted: PersistedOperations): EdgeGuard {
  return {
    subscribe(session, payload, operation) {
      if (persisted.mode === 'off') return undefined;
      try {
        persisted.admit(sha256(payload.query), operation, budgetTransport(session.transport.kind), false);
        return undefined;
      } catch (error) {
        return error as GraphQLError;
      }
    },
  };
}

/** The gateway's edge checks as guards, in order: the safelist first (a refused operation costs no budget), then the budgets. */
export function edgeGuards(edge: EdgeChecks): EdgeGuard[] {
  return [...(edge.persistedOperations ? [safelistGuard(edge.persistedOperations)] : []), ...(edge.rateLimits ? [rateLimitGuard(edge.rateLimits)] : [])];
}

/** The close reason of a WebSocket refused by its budget (close 1013 Try Again Later, which graphql-ws clients retry). */
export function rateLimitedCloseReason(refusal: GraphQLError): string {
  return `Rate limited: retry in ${String(refusal.extensions['retryAfterSeconds'])} s`;
}
