/**
 * The gateway's deny list of revoked sessions: the platform's `SessionDenyList` (which follows
 * users' session events; every subgraph keeps one of its own too), plus what makes a revocation
 * visible on this replica before the revoking mutation answers. Its subscriptions end the live
 * streams of a session the moment it lands on the list (`onRevoked`, subscriptions/core.ts).
 *
 * The bus is fast but asynchronous, and a client that signs out and immediately reuses its token
 * must be refused. So the replica that carries a revoking mutation makes it visible before it
 * answers: after `logout` it adds the caller's session at once; after `deleteMyAccount` that one at
 * once and waits for the erasure's revocation event; after `resetPassword` (and a
 * refresh-token reuse) it waits, up to `syncTimeoutMs`, until the event whose `cause` is the
 * digest of the token the client presented has reached its list. Other replicas learn within the
 * bus latency (milliseconds).
 */
import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse } from '@apollo/server';
import type { FieldNode, FragmentDefinitionNode, SelectionSetNode } from 'graphql';
import { Kind } from 'graphql';
import { accountErasureCause, sessionRevocationCause } from '@shop/events';
import { gatewayDenyListMetrics, SessionDenyList } from '@shop/platform';
import type { RevocationList } from './auth';
import type { GatewayContext } from './subgraph-data-source';

/** The gateway's deny list: the platform's, plus the plugin below. */
export class SessionRevocations extends SessionDenyList implements RevocationList {
  constructor(
    /** Longest wait of a revoking mutation for its event. Default 2000 ms. */
    syncTimeoutMs = 2_000,
  ) {
    super({ syncTimeoutMs, groupPrefix: 'gateway.live', metrics: gatewayDenyListMetrics });
  }

  /**
   * The Apollo Server plugin that makes revocations visible on this replica before the revoking
   * mutation answers (see the top of this file).
   */
  plugin(): ApolloServerPlugin<GatewayContext> {
    return {
      requestDidStart: async () => ({
        willSendResponse: async (rc) => {
          if (rc.operation?.operation !== 'mutation' || rc.response.body.kind !== 'single') return;
          const { data, errors } = rc.response.body.singleResult;
          const waits: Array<Promise<boolean>> = [];
          for (const field of topLevelFields(rc)) {
            const key = field.alias?.value ?? field.name.value;
            const value = data?.[key];
            if (field.name.value === 'logout' && value === true && rc.contextValue.identity) {
              this.revoke([rc.contextValue.identity.sessionId], rc.contextValue.identity.exp * 1000, 'response');
            } else if (field.name.value === 'deleteMyAccount' && value === true && rc.contextValue.identity) {
              // The caller's token at once; the user's other sessions once the event has landed.
              this.revoke([rc.contextValue.identity.sessionId], rc.contextValue.identity.exp * 1000, 'response');
              waits.push(this.waitForCause(sessionRevocationCause(accountErasureCause(rc.contextValue.identity.userId))));
            } else if (field.name.value === 'resetPassword' && value === true) {
              const token = argument(rc, field, 'token');
              if (token) waits.push(this.waitForCause(sessionRevocationCause(token)));
            } else if (field.name.value === 'refreshToken' && errors?.some((e) => e.path?.[0] === key && e.extensions?.['reason'] === 'REFRESH_TOKEN_REUSED')) {
              const token = argument(rc, field, 'refreshToken');
              if (token) waits.push(this.waitForCause(sessionRevocationCause(token)));
            }
          }
          if (waits.length && this.following) await Promise.all(waits);
        },
      }),
    };
  }
}

type ResponseContext = GraphQLRequestContextWillSendResponse<GatewayContext>;

/** The root fields of the operation, through fragments. */
function topLevelFields(rc: ResponseContext): FieldNode[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of rc.document?.definitions ?? []) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fields: FieldNode[] = [];
  const walk = (set: SelectionSetNode, depth: number): void => {
    if (depth > 5) return;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) fields.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet, depth + 1);
      else {
        const fragment = fragments.get(s.name.value);
        if (fragment) walk(fragment.selectionSet, depth + 1);
      }
    }
  };
  if (rc.operation) walk(rc.operation.selectionSet, 0);
  return fields;
}

/** A string argument of a field, literal or from the request's variables. */
function argument(rc: ResponseContext, field: FieldNode, name: string): string | null {
  const node = field.arguments?.find((a) => a.name.value === name)?.value;
  if (!node) return null;
  if (node.kind === Kind.STRING) return node.value;
  if (node.kind === Kind.VARIABLE) {
    const value = rc.request.variables?.[node.name.value];
    return typeof value === 'string' ? value : null;
  }
  return null;
}
