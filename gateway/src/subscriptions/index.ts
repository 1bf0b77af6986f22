/**
 * Federated GraphQL subscriptions through the gateway (stock @apollo/gateway refuses them) over
 * graphql-ws, SSE (graphql-sse) and multipart HTTP, all on /graphql. Wire it with the gateway's `attach` hook:
 *
 *   startGateway({ ..., attach: attachSubscriptions({ internalAuthSecret }) })
 *
 * See core.ts (what every transport shares: auth, limits, slow clients, revocation, shutdown),
 * server.ts (graphql-ws, close codes), sse.ts and multipart.ts (the HTTP transports), federated-plan.ts (planning and executing the rest of
 * the plan), hub.ts (sharing and ordering), upstream.ts (subgraph connections and reconnection),
 * client-stream.ts (bounded per-client buffers), admission.ts (the safelist and rate budgets as
 * transport-neutral guards) and docs/notes/subscriptions.md.
 */
import type http from 'node:http';
import type { ApolloGateway } from '@apollo/gateway';
import type { AttachContext } from './core';
import type { SubscriptionGatewayOptions, SubscriptionServer } from './server';
import { startSubscriptionServer } from './server';
import { edgeGuards } from './admission';

export type { EdgeChecks, EdgeGuard, GuardCandidate, GuardSession, GuardTransport } from './admission';
export { edgeGuards, rateLimitGuard, safelistGuard } from './admission';
export type { AttachContext, ClientSession, ConnectionCandidate, DropReason, SessionTransport, SubscribePayload, SubscriptionCoreOptions, SubscriptionGuard, TransportKind } from './core';
export { DEFAULT_PUBLIC_ROOT_FIELDS, httpRefusal, SubscriptionCore } from './core';
export { acceptsMultipartSubscriptions, DEFAULT_MULTIPART_HEARTBEAT_MS } from './multipart';
export type { SubscriptionGatewayOptions, SubscriptionServer } from './server';
export { startSubscriptionServer } from './server';

/**
 * The gateway `attach` hook that serves subscriptions on the gateway's port and path. `onStarted`
 * (optional) receives the running server (tests read its counters).
 */
export function attachSubscriptions(
  options: SubscriptionGatewayOptions & { readonly onStarted?: (server: SubscriptionServer) => void },
): (server: http.Server, gateway: ApolloGateway, ctx: AttachContext) => SubscriptionServer {
  return (server, gateway, ctx) => {
    // The gateway's edge checks (safelist, rate budgets) first, then the caller's own guards, on every transport.
    const running = startSubscriptionServer(server, gateway, ctx, { ...options, guards: [...edgeGuards(ctx), ...(options.guards ?? [])] });
    options.onStarted?.(running);
    return running;
  };
}
