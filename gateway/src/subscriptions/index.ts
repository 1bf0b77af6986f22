/**
 * Federated GraphQL subscriptions through the gateway over graphql-ws (stock @apollo/gateway refuses
 * them). Wire it with the gateway's `attach` hook:
 *
 *   startGateway({ ..., attach: attachSubscriptions({ internalAuthSecret }) })
 *
 * See server.ts (endpoint, auth, close codes), federated-plan.ts (planning and executing the rest of
 * the plan), hub.ts (sharing and ordering), upstream.ts (subgraph connections and reconnection),
 * client-stream.ts (bounded per-client buffers), admission.ts (the safelist and rate budgets as
 * transport-neutral guards) and docs/notes/subscriptions.md.
 */
import type http from 'node:http';
import type { ApolloGateway } from '@apollo/gateway';
import type { AttachContext, SubscriptionGatewayOptions, SubscriptionServer } from './server';
import { startSubscriptionServer } from './server';

export type { AttachContext, SubscriptionGatewayOptions, SubscriptionServer } from './server';
export { DEFAULT_PUBLIC_ROOT_FIELDS, startSubscriptionServer } from './server';
export type { EdgeChecks, EdgeGuard, GuardCandidate, GuardSession, GuardTransport } from './admission';
export { edgeGuards, rateLimitGuard, safelistGuard } from './admission';

/**
 * The gateway `attach` hook that serves subscriptions on the gateway's port and path. `onStarted`
 * (optional) receives the running server (tests read its counters).
 */
export function attachSubscriptions(
  options: SubscriptionGatewayOptions & { readonly onStarted?: (server: SubscriptionServer) => void },
): (server: http.Server, gateway: ApolloGateway, ctx: AttachContext) => { dispose(): Promise<void> } {
  return (server, gateway, ctx) => {
    const running = startSubscriptionServer(server, gateway, ctx, options);
    options.onStarted?.(running);
    return running;
  };
}
